"""JA-VLM-Bench-In-the-Wild (Sakana AI): 50 questions on 42 photos of Japan, scored by Japanese
ROUGE-L against the reference answers and by an LLM judge (1–5).

Rows (Hub schema, split ``test``): ``image``, ``question``, ``answer`` (optional ``question_id``;
the row index otherwise, as eval-mm numbers them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.tasks.base import EvalItem, Task, resolve_image


class JaVLMBenchInTheWild(Task):
    name = "ja_vlm_bench_in_the_wild"
    title = "JA-VLM-Bench-In-the-Wild"
    hub_id = "SakanaAI/JA-VLM-Bench-In-the-Wild"
    hub_split = "test"
    metrics = ("rougel", "llm_judge")
    max_new_tokens = 256  # answers of a few sentences
    full_size = 50

    def items_from_row(self, row: dict[str, Any], index: int, folder: Path | None) -> list[EvalItem]:
        qid = str(row.get("question_id", index))
        question = row.get("question") or row.get("input_text") or ""
        return [EvalItem(id=qid, question=question, prompt=question, image=resolve_image(row.get("image"), folder, qid),
                         reference=row.get("answer") or "")]
