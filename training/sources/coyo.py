"""COYO-700M pairs, as img2dataset downloads them (``--output_format files``).

img2dataset writes ``{shard}/{key}.jpg`` with ``{key}.txt`` (the COYO ``text`` column, i.e. the
alt-text) and ``{key}.json`` (``url``, ``width``, ``height``, ``status`` and the COYO columns it was
asked to keep). Failed downloads have no ``.jpg`` and are skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.sources._common import key_for

logger = logging.getLogger(__name__)


def coyo_pairs(folder: str | os.PathLike) -> Iterator[dict[str, Any]]:
    folder = Path(folder)
    for image_path in sorted(folder.rglob("*.jpg")):
        txt = image_path.with_suffix(".txt")
        meta_path = image_path.with_suffix(".json")
        if not txt.is_file():
            logger.warning("%s has no caption file; skipped", image_path)
            continue
        caption = txt.read_text(encoding="utf-8").strip()
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if meta.get("status", "success") != "success" or not caption:
            continue
        yield {
            "__key__": key_for("coyo", meta.get("key", image_path.stem), meta.get("url")),
            "jpg": image_path.read_bytes(),
            "txt": caption,
            "json": {"url": meta.get("url"), "width": meta.get("width"), "height": meta.get("height")},
        }
