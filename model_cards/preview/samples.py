"""Reading samples straight from a dataset folder's WebDataset shards (no ``datasets`` cache).

A sample is the tar members sharing a key: ``KEY.jpg``, ``KEY.0.jpg`` … ``KEY.4.jpg``, ``KEY.txt``,
``KEY.json`` (the key holds no dot, so the member name splits at the first one).
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_builders.shard_writer import DATA_DIR


@dataclass
class Sample:
    key: str
    images: dict[str, bytes] = field(default_factory=dict)  # member name ("jpg", "0.jpg", ...) → bytes
    text: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    shard: str = ""


def _finish(key: str, members: dict[str, bytes], shard: str) -> Sample:
    meta = json.loads(members["json"].decode("utf-8")) if "json" in members else {}
    text = members["txt"].decode("utf-8", errors="replace") if "txt" in members else None
    images = {name: data for name, data in members.items() if name.endswith(("jpg", "jpeg", "png", "webp"))}
    return Sample(key=key, images=images, text=text, meta=meta if isinstance(meta, dict) else {}, shard=shard)


def iter_samples(folder: Path, limit: int | None = None) -> Iterator[Sample]:
    """Samples of ``folder/data/*.tar`` in shard order, at most ``limit``."""
    n = 0
    for shard in sorted((folder / DATA_DIR).glob("*.tar")):
        key, members = None, {}
        with tarfile.open(shard) as tf:
            for info in tf:
                if not info.isfile():
                    continue
                k, _, ext = info.name.partition(".")
                if key is not None and k != key:
                    yield _finish(key, members, shard.name)
                    n += 1
                    if limit is not None and n >= limit:
                        return
                    members = {}
                key = k
                members[ext] = tf.extractfile(info).read()
        if key is not None and members:
            yield _finish(key, members, shard.name)
            n += 1
            if limit is not None and n >= limit:
                return
