"""Japanese Heron-Bench: 103 questions on 21 Japan-related images, in three categories (conv,
detail, complex), scored by a judge relative to GPT-4's reference answers (see
:mod:`eval.metrics.heron`).

Rows (Hub schema): ``question_id``, ``image``, ``category``, ``image_category``, ``context``, ``text``
(the question) and ``answer`` — a string, or a struct of answers by model from which the reference
model's is taken. A local folder may also be Heron's own layout: ``questions_ja.jsonl`` +
``answers_gpt4.jsonl`` + ``images/``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dataset_builders.errors import InputNotFound
from eval.tasks.base import EvalItem, Task, read_jsonl, resolve_image

logger = logging.getLogger(__name__)

#: The model whose answers are the reference (Heron-Bench's and eval-mm's choice).
REFERENCE_MODEL = "gpt-4-0125-preview"


class HeronBench(Task):
    name = "heron_bench"
    title = "Japanese-Heron-Bench"
    hub_id = "turing-motors/Japanese-Heron-Bench"
    hub_split = "train"
    metrics = ("heron_judge",)
    max_new_tokens = 512  # detailed descriptions and reasoning: the longest answers of the four
    full_size = 103

    def rows_from_folder(self, folder: Path) -> Iterable[dict[str, Any]]:
        if (folder / "questions_ja.jsonl").is_file():
            return _heron_layout_rows(folder)
        return super().rows_from_folder(folder)

    def rows_from_hub(self, repo_id: str) -> Iterable[dict[str, Any]]:
        # turing-motors' repo holds Heron's own layout (jsonl files + images/), not a table
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(repo_id, repo_type="dataset"))
        found = sorted(folder.glob("**/questions_ja.jsonl"))
        if found:
            return _heron_layout_rows(found[0].parent)
        return super().rows_from_hub(repo_id)

    def items_from_row(self, row: dict[str, Any], index: int, folder: Path | None) -> list[EvalItem]:
        qid = str(row.get("question_id", index))
        answer = row.get("answer")
        if isinstance(answer, dict):
            reference = answer.get(REFERENCE_MODEL) or next((v for v in answer.values() if v), "")
        else:
            reference = answer or ""
        question = row.get("text") or row.get("input_text") or ""
        return [EvalItem(id=qid, question=question, prompt=question, image=resolve_image(row.get("image"), folder, qid),
                         reference=reference, category=row.get("category"), context=row.get("context") or "")]


def _heron_layout_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Heron's files joined into Hub-schema rows (images resolved to absolute paths)."""
    answers_file = next((p for p in (folder / "answers_gpt4.jsonl", folder / "answers_ja.jsonl") if p.is_file()), None)
    if answers_file is None:
        raise InputNotFound(f"{folder}: questions_ja.jsonl needs answers_gpt4.jsonl (the reference answers) beside it")
    answers = {r["question_id"]: r for r in read_jsonl(answers_file)}
    for q in read_jsonl(folder / "questions_ja.jsonl"):
        ref = answers.get(q["question_id"])
        if ref is None:
            logger.warning("heron_bench: question %s has no reference answer in %s; skipped", q["question_id"], answers_file)
            continue
        image = q["image"]
        path = next((p for p in (folder / "images" / image, folder / image) if p.is_file()), folder / "images" / image)
        yield {**q, "image": str(path), "answer": {ref.get("model_id") or REFERENCE_MODEL: ref["text"]}}
