"""Sample keys: short, stable, and safe as WebDataset member prefixes."""

from __future__ import annotations

import hashlib


def make_key(*parts: object, length: int = 20) -> str:
    """A hex key derived from ``parts`` (e.g. a page URL and an image URL); stable across runs and machines."""
    h = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8"))
    return h.hexdigest()[:length]
