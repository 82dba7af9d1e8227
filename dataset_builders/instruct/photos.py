"""Photos to talk about: a folder of image files, or WebDataset shards read through ``datasets``."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from dataset_builders.errors import InputNotFound, UserInputError
from dataset_builders.images import decode_image, encode_jpeg, to_rgb

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
_WDS_IMAGE_COLUMNS = ("jpg", "jpeg", "png", "webp", "image")


def _iter_folder(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
        rel = path.relative_to(folder).with_suffix("")
        yield rel.as_posix(), path.read_bytes()


def _iter_shards(shards: list[Path], counts: Counter[str]) -> Iterator[tuple[str, bytes | None]]:
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    ds = load_dataset("webdataset", data_files={"train": [str(s) for s in shards]}, split="train", streaming=True)
    columns = [c for c in _WDS_IMAGE_COLUMNS if c in (ds.features or {})]
    if not columns:
        raise UserInputError(f"WebDataset shards {shards[0]}…: no image column (looked for {_WDS_IMAGE_COLUMNS})")
    for c in columns:
        ds = ds.cast_column(c, ImageFeature(decode=False))
    for row in ds:
        image = next((row[c] for c in columns if row.get(c)), None)
        yield str(row["__key__"]), (image or {}).get("bytes")


def iter_photos(inputs: list[str | os.PathLike], counts: Counter[str]) -> Iterator[tuple[str, bytes]]:
    """``(image_id, bytes)`` for every photo; folders and ``.tar`` shards may be mixed."""
    for p in map(Path, inputs):
        if p.is_dir():
            shards = sorted(p.glob("*.tar"))
            items = _iter_shards(shards, counts) if shards else _iter_folder(p)
        elif p.is_file() and p.suffix == ".tar":
            items = _iter_shards([p], counts)
        elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            items = iter([(p.stem, p.read_bytes())])
        else:
            raise InputNotFound(f"photo input {p} is not a folder of images, a .tar shard or an image file")
        for image_id, data in items:
            counts["input"] += 1
            if not data:
                counts["dropped_missing_image"] += 1
                logger.warning("photo %s has no image bytes; skipped", image_id)
                continue
            counts["kept"] += 1
            yield image_id, data


def downscale_for_model(data: bytes, max_side: int) -> bytes:
    """JPEG bytes no larger than ``max_side`` on the longest side (what the VLM is sent)."""
    img = to_rgb(decode_image(data))
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    return encode_jpeg(img, quality=90)

