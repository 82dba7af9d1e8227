"""TextVQA (questions that need reading the text in the photo), scored by VQA accuracy against the
ten human answers. Two variants, with LLaVA-1.5's wording:

* ``textvqa`` — OCR tokens in the prompt (``Reference OCR token: a, b, c``), the setting of
  LLaVA-1.5's published 58.2;
* ``textvqa_no_ocr`` — the question alone.

Both end with ``Answer the question using a single word or phrase.`` The OCR line is left out for an
image without OCR tokens. Rows (Hub ``lmms-lab/textvqa``, split ``validation``): ``question_id``,
``question``, ``image``, ``answers``, ``ocr_tokens``. A local folder may also be the official layout:
``TextVQA_0.5.1_<split>.json`` with ``train_images/`` or ``test_images/`` (``<image_id>.jpg``), and the
Rosetta OCR file ``TextVQA_Rosetta_OCR_v0.2_<split>.json`` beside it for the tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from eval.tasks.base import EvalItem, Task, resolve_image

logger = logging.getLogger(__name__)

ANSWER_INSTRUCTION = "Answer the question using a single word or phrase."
OCR_PREFIX = "Reference OCR token: "


def textvqa_prompt(question: str, ocr_tokens: list[str] | None) -> str:
    """LLaVA-1.5's TextVQA prompt (the OCR line only when there are tokens)."""
    lines = [question]
    if ocr_tokens:
        lines.append(OCR_PREFIX + ", ".join(ocr_tokens))
    lines.append(ANSWER_INSTRUCTION)
    return "\n".join(lines)


class TextVQA(Task):
    name = "textvqa"
    title = "TextVQA"
    hub_id = "lmms-lab/textvqa"
    hub_split = "validation"
    metrics = ("vqa_accuracy",)
    max_new_tokens = 32  # "a single word or phrase" (LLaVA-1.5's TextVQA prompt)
    full_size = 5000  # the validation split with human answers
    use_ocr: ClassVar[bool] = True

    def rows_from_folder(self, folder: Path) -> Iterable[dict[str, Any]]:
        official = sorted(folder.glob("TextVQA_*.json"))
        official = [p for p in official if "Rosetta" not in p.name]
        if official:
            return _official_rows(folder, official)
        return super().rows_from_folder(folder)

    def items_from_row(self, row: dict[str, Any], index: int, folder: Path | None) -> list[EvalItem]:
        qid = str(row.get("question_id", index))
        answers = [a for a in (row.get("answers") or []) if isinstance(a, str)]
        if not answers:
            logger.debug("textvqa: question %s has no human answers (test split?); skipped", qid)
            return []
        question = row["question"]
        tokens = list(row.get("ocr_tokens") or []) if self.use_ocr else None
        return [EvalItem(id=qid, question=question, prompt=textvqa_prompt(question, tokens),
                         image=resolve_image(row.get("image"), folder, qid), answers=answers)]


class TextVQANoOCR(TextVQA):
    name = "textvqa_no_ocr"
    title = "TextVQA (no OCR tokens)"
    use_ocr = False


def _official_rows(folder: Path, files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        split = path.stem.rsplit("_", 1)[-1]
        ocr = _rosetta_tokens(folder, split)
        data = json.loads(path.read_text(encoding="utf-8"))
        for row in data["data"] if isinstance(data, dict) else data:
            image_id = row["image_id"]
            sub = "test_images" if row.get("set_name", split) == "test" else "train_images"
            image = next((p for p in (folder / sub / f"{image_id}.jpg", folder / "images" / f"{image_id}.jpg",
                                      folder / f"{image_id}.jpg") if p.is_file()), folder / sub / f"{image_id}.jpg")
            yield {**row, "image": str(image), "ocr_tokens": row.get("ocr_tokens") or ocr.get(image_id, [])}


def _rosetta_tokens(folder: Path, split: str) -> dict[str, list[str]]:
    """image_id → OCR tokens from ``TextVQA_Rosetta_OCR_v0.2_<split>.json`` (empty when absent)."""
    path = folder / f"TextVQA_Rosetta_OCR_v0.2_{split}.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data["data"] if isinstance(data, dict) else data
    return {r["image_id"]: list(r.get("ocr_tokens") or []) for r in rows}
