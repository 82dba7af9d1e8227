"""The training images the annotator sees: the seed dataset's images, or a TextVQA-style folder
(``*.jsonl`` rows with ``image`` and ``ocr_tokens``) whose OCR tokens enable the cross-check."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class TrainImage:
    id: str
    data: bytes
    ocr_tokens: list[str] = field(default_factory=list)


def _safe_id(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:12]


def load_train_images(seed_dataset: str, images: str | None, limit: int) -> list[TrainImage]:
    """Up to ``limit`` distinct images (by content), in a stable order."""
    out: list[TrainImage] = []
    seen: set[str] = set()

    def add(raw_id: str, data: bytes, tokens: list[str]) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in seen and len(out) < limit:
            seen.add(digest)
            out.append(TrainImage(_safe_id(raw_id), data, tokens))

    if images:
        from eval.tasks.base import resolve_image, rows_from_folder

        folder = Path(images)
        for i, row in enumerate(rows_from_folder(folder)):
            rid = str(row.get("image_id") or row.get("question_id") or i)
            ref = resolve_image(row.get("image"), folder, rid)
            data = ref.read_bytes() if isinstance(ref, Path) else (ref.get("bytes") if isinstance(ref, dict) else ref)
            add(rid, data, [t for t in (row.get("ocr_tokens") or []) if isinstance(t, str)])
    else:
        from training.data.shards import expand_shards, iter_samples, sample_images

        for sample in iter_samples(expand_shards(seed_dataset)):
            imgs = sample_images(sample)
            if imgs:
                add(str(sample.get("__key__")), imgs[0], list((sample.get("json") or {}).get("ocr_tokens") or []))
            if len(out) >= limit:
                break
    if not out:
        raise ValueError(f"no training images in {images or seed_dataset}")
    return out
