"""JA-VG-VQA-500 (Sakana AI): 500 images from Japanese Visual Genome VQA with several short
questions each, scored by Japanese ROUGE-L and an LLM judge (1–5).

Rows (Hub schema, split ``test``): ``image_id``, ``image`` and ``qas`` — a list of ``{qa_id,
question, answer}``; every question becomes one item (as eval-mm flattens them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_builders.errors import UserInputError
from eval.tasks.base import EvalItem, Task, resolve_image


class JaVGVQA500(Task):
    name = "ja_vg_vqa_500"
    title = "JA-VG-VQA-500"
    hub_id = "SakanaAI/JA-VG-VQA-500"
    hub_split = "test"
    metrics = ("rougel", "llm_judge")
    max_new_tokens = 64  # short answers (a word or a phrase): 64 tokens leave room, 256 wasted time

    def items_from_row(self, row: dict[str, Any], index: int, folder: Path | None) -> list[EvalItem]:
        image_id = str(row.get("image_id", index))
        qas = row.get("qas")
        if not isinstance(qas, list):
            raise UserInputError(f"ja_vg_vqa_500: image {image_id} has no 'qas' list (rows need image_id, image, qas)")
        image = resolve_image(row.get("image"), folder, image_id)
        return [EvalItem(id=str(qa.get("qa_id", f"{image_id}-{n}")), question=qa["question"], prompt=qa["question"],
                         image=image, reference=qa.get("answer") or "")
                for n, qa in enumerate(qas)]
