"""LLaVA-Pretrain (caption pairs) and LLaVA-Instruct (conversations), and their Japanese versions.

Both are one JSON list of ``{"id", "image": "relative/path.jpg", "conversations": [{"from":
"human"|"gpt", "value"}]}``. In LLaVA-Pretrain the human turn is a fixed caption request with
``<image>`` and the gpt turn is the caption; LLaVA-Instruct turns are free conversations where
``<image>`` may sit before or after the first question.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dataset_builders.errors import UserInputError
from training.sources._common import IMAGE_PLACEHOLDER, image_first, key_for, read_image

logger = logging.getLogger(__name__)

_ROLES = {"human": "user", "gpt": "assistant", "system": "system"}


def _records(json_path: str | os.PathLike) -> list[dict[str, Any]]:
    data = json.loads(Path(json_path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise UserInputError(f"{json_path}: expected a JSON list of LLaVA records")
    return data


def llava_pretrain(json_path: str | os.PathLike, image_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Pairs: the image and the gpt turn (the caption)."""
    image_dir = Path(image_dir)
    for rec in _records(json_path):
        turns = rec.get("conversations") or []
        caption = next((t.get("value", "") for t in turns if t.get("from") == "gpt"), "")
        caption = IMAGE_PLACEHOLDER.sub(" ", caption).strip()
        if not caption or not rec.get("image"):
            logger.warning("LLaVA-Pretrain record %s: no caption or image; skipped", rec.get("id"))
            continue
        image = read_image(image_dir, rec["image"])
        if image is None:
            continue
        yield {"__key__": key_for("llava-pretrain", rec.get("id"), rec["image"]), "jpg": image, "txt": caption,
               "json": {"url": rec.get("url"), "source_url": rec["image"]}}


def llava_instruct(json_path: str | os.PathLike, image_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Instruct: the conversation with roles user/assistant, ``<image>\\n`` leading the first user turn."""
    image_dir = Path(image_dir)
    for rec in _records(json_path):
        if not rec.get("image"):
            continue  # text-only records: the instruct schema needs an image
        turns = []
        for t in rec.get("conversations") or []:
            role = _ROLES.get(t.get("from"))
            if role is None:
                break
            text = IMAGE_PLACEHOLDER.sub(" ", t.get("value", "")).strip() if turns else t.get("value", "")
            turns.append({"role": role, "content": text})
        if not turns or turns[0]["role"] != "user" or turns[-1]["role"] != "assistant":
            logger.warning("LLaVA-Instruct record %s: not a user→assistant conversation; skipped", rec.get("id"))
            continue
        turns[0]["content"] = image_first(turns[0]["content"])
        image = read_image(image_dir, rec["image"])
        if image is None:
            continue
        yield {"__key__": key_for("llava-instruct", rec.get("id"), rec["image"]), "jpg": image,
               "json": {"conversations": turns, "task": "llava-instruct", "source": f"llava:{rec.get('id')}"}}
