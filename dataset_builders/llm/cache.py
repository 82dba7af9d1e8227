"""Disk cache of LLM answers, keyed by a hash of the whole request.

The key covers the model, every message (text verbatim, images by the SHA-256 of their bytes), the
sampling parameters and the response schema, and nothing else: not the endpoint, not the API key.
Changing any of them is a new request; re-running or resuming the same build sends nothing that
was already answered.

One JSON file per entry (``<cache_dir>/<key[:2]>/<key>.json``), written atomically (tmp + rename),
so a killed run leaves complete entries or none; an unreadable entry is treated as a miss.
Only final answers are stored (parsed, malformed or refused); transient failures (429, 5xx,
timeouts) and budget stops are not, so the next run tries them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from dataset_builders.atomic import atomic_write_json

logger = logging.getLogger(__name__)

#: Bump when the entry layout or the key recipe changes (old entries then simply miss).
CACHE_FORMAT = 1


def request_key(description: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request description (see ``LLMRequest.key_material``)."""
    canonical = json.dumps({"cache_format": CACHE_FORMAT, **description}, sort_keys=True, ensure_ascii=False,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Get / put answers by request key; ``None`` directory means a cache that never hits."""

    def __init__(self, directory: str | os.PathLike | None):
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        assert self.directory is not None
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        path = self.path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            logger.warning("ignoring unreadable cache entry %s (%s); the request will be sent again", path, e)
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "response" not in entry:
            logger.warning("ignoring malformed cache entry %s; the request will be sent again", path)
            return None
        return entry

    def put(self, key: str, entry: dict[str, Any]) -> None:
        if self.directory is None:
            return
        atomic_write_json(self.path(key), {"key": key, **entry})

    def __len__(self) -> int:
        if self.directory is None:
            return 0
        return sum(1 for _ in self.directory.glob("*/*.json"))
