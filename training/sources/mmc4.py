"""mmc4-core documents → interleaved samples.

mmc4 ships JSONL documents ``{"url", "text_list": [sentences], "image_info": [{"image_name",
"raw_url", "matched_text_index", "matched_sim"}], ...}``; images are downloaded separately into a
folder by ``image_name``. Each image follows the sentence it was matched to. Documents with more
than five images keep the five best-matched (highest ``matched_sim``); missing images are dropped;
documents left without an image are skipped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dataset_builders.schema import MAX_INTERLEAVED_IMAGES
from training.sources._common import key_for, read_image

logger = logging.getLogger(__name__)


def mmc4_documents(jsonl_path: str | os.PathLike, image_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    image_dir = Path(image_dir)
    with open(jsonl_path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as e:
                logger.warning("%s:%d: bad JSON (%s); skipped", jsonl_path, line_no, e)
                continue
            texts = [t for t in doc.get("text_list") or []]
            infos = [i for i in doc.get("image_info") or [] if 0 <= int(i.get("matched_text_index", -1)) < len(texts)]
            infos = sorted(infos, key=lambda i: -float(i.get("matched_sim", 0.0)))
            kept = []
            for info in infos:
                if len(kept) == MAX_INTERLEAVED_IMAGES:
                    break
                data = read_image(image_dir, info["image_name"])
                if data is not None:
                    kept.append((int(info["matched_text_index"]), info, data))
            if not kept or not texts:
                continue
            kept.sort(key=lambda x: x[0])
            sample: dict[str, Any] = {
                "__key__": key_for("mmc4", doc.get("url"), line_no),
                "json": {
                    "texts": texts,
                    "image_positions": [pos for pos, _, _ in kept],
                    "image_urls": [info.get("raw_url") for _, info, _ in kept],
                    "source_url": doc.get("url"),
                },
            }
            for slot, (_, _, data) in enumerate(kept):
                sample[f"{slot}.jpg"] = data
            yield sample
