"""Helpers the source adapters share."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from dataset_builders.keys import make_key

logger = logging.getLogger(__name__)

IMAGE_PLACEHOLDER = re.compile(r"\s*<image>\s*")


def read_image(folder: Path, name: str) -> bytes | None:
    """Bytes of ``folder/name``, or None (logged) when the file is missing."""
    path = folder / name
    try:
        return path.read_bytes()
    except OSError:
        logger.warning("image %s not found; sample skipped", path)
        return None


def key_for(source: str, *parts: object) -> str:
    return make_key(source, *parts)


def image_first(text: str) -> str:
    """The project's convention: the first user turn starts with ``<image>\\n`` (wherever the source put it)."""
    return "<image>\n" + IMAGE_PLACEHOLDER.sub(" ", text).strip() if "<image>" in text else "<image>\n" + text.strip()
