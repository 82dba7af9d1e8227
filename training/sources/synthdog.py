"""synthdog-ja (synthetic Japanese documents, OCR) → instruct conversations.

Rows as ``datasets`` / the parquet files give them: ``image`` (``{"bytes": …}`` or a PIL image)
and ``ground_truth``, a JSON string ``{"gt_parse": {"text_sequence": "…"}}``. The task is reading
all the text in the image.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from training.sources._common import key_for

logger = logging.getLogger(__name__)

OCR_PROMPT = "画像内の文字をすべて書き出してください。"


def _rows(source: Iterable[dict[str, Any]] | str | os.PathLike) -> Iterable[dict[str, Any]]:
    if isinstance(source, str | os.PathLike):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(source).iter_batches(batch_size=256):
            yield from batch.to_pylist()
    else:
        yield from source


def _image_bytes(image: Any) -> bytes | None:
    if isinstance(image, dict):
        return image.get("bytes")
    if isinstance(image, bytes | bytearray):
        return bytes(image)
    if hasattr(image, "save"):
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=95)
        return buf.getvalue()
    return None


def synthdog_ja(rows: Iterable[dict[str, Any]] | str | os.PathLike, prompt: str = OCR_PROMPT) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(_rows(rows)):
        try:
            text = json.loads(row["ground_truth"])["gt_parse"]["text_sequence"].strip()
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            logger.warning("synthdog-ja row %d: bad ground_truth (%s); skipped", i, e)
            continue
        data = _image_bytes(row.get("image"))
        if not text or data is None:
            continue
        turns = [{"role": "user", "content": f"<image>\n{prompt}"}, {"role": "assistant", "content": text}]
        yield {"__key__": key_for("synthdog-ja", i, text[:64]), "jpg": data,
               "json": {"conversations": turns, "task": "ocr", "source": f"synthdog-ja:{i}"}}
