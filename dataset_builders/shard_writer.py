"""Writing samples into WebDataset tar shards, atomically and resumably.

Each task (rank) writes its own shards, ``data/{split}-{rank:05d}-{index:05d}.tar``. A shard is
written as ``*.tar.tmp`` and renamed only when complete, so a killed run never leaves a partial
shard under a final name. On restart the writer deletes its rank's ``.tmp`` leftovers, reads the
keys already committed, skips those samples when they come again and numbers new shards after the
last one: a re-run over the same input ends with every sample exactly once.

Shard bytes are deterministic (fixed tar metadata, members in a fixed order), so the same input
gives the same files.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tarfile
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from dataset_builders.atomic import atomic_write_json, remove_stale_tmp, tmp_path_for, with_path
from dataset_builders.funnel import Funnel
from dataset_builders.images import ImageError, as_jpeg_bytes
from dataset_builders.schema import DatasetSchema, InvalidSample

logger = logging.getLogger(__name__)

DATA_DIR = "data"
RANK_STATS_DIR = "stats"
_TAR_BLOCK = 512


def shard_name(split: str, rank: int, index: int) -> str:
    return f"{split}-{rank:05d}-{index:05d}.tar"


def _member_size(n_bytes: int) -> int:
    return _TAR_BLOCK + -(-n_bytes // _TAR_BLOCK) * _TAR_BLOCK


class ShardWriter:
    """Write validated samples of one schema for one task (rank).

    Args:
        output_dir: the dataset folder; shards go to ``output_dir/data``.
        schema: the sample schema every sample is validated against.
        rank: this task's index; part of every shard name, so tasks never collide.
        split: split name, the first part of shard names (``train``).
        max_samples / max_bytes: a shard is closed when either limit would be exceeded.
        on_invalid: ``"drop"`` counts a bad sample by reason and goes on (long jobs);
            ``"raise"`` raises :class:`InvalidSample` (tests, strict callers).

    ``write`` returns True when the sample is in the dataset (written now or by an earlier run).
    Use as a context manager, or call ``close()``; on an exception the open shard is discarded.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike,
        schema: DatasetSchema,
        rank: int = 0,
        split: str = "train",
        max_samples: int = 1000,
        max_bytes: int = 512 * 1024**2,
        on_invalid: Literal["drop", "raise"] = "drop",
    ):
        if max_samples < 1 or max_bytes < 1:
            raise ValueError("max_samples and max_bytes must be positive")
        self.output_dir = Path(output_dir)
        self.schema = schema
        self.rank = rank
        self.split = split
        self.max_samples = max_samples
        self.max_bytes = max_bytes
        self.on_invalid = on_invalid
        self.data_dir = self.output_dir / DATA_DIR
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.counts: Counter[str] = Counter()
        #: why the last call to ``write`` returned False (None after a kept sample)
        self.last_drop_reason: str | None = None
        self._keys_this_run: set[str] = set()
        self._tar: tarfile.TarFile | None = None
        self._shard_path: Path | None = None
        self._shard_samples = 0
        self._shard_bytes = 0
        self._committed: list[str] = []
        self._resume()

    # -- resume ---------------------------------------------------------------------------------
    def _rank_glob(self) -> str:
        return f"{self.split}-{self.rank:05d}-*.tar"

    def _resume(self) -> None:
        stale = remove_stale_tmp(self.data_dir, self._rank_glob())
        if stale:
            logger.info("rank %d: removed %d partial shard(s) of a killed run", self.rank, len(stale))
        self.done_keys: set[str] = set()
        self._next_index = 0
        pattern = re.compile(rf"^{re.escape(self.split)}-{self.rank:05d}-(\d{{5,}})\.tar$")
        for path in sorted(self.data_dir.glob(self._rank_glob())):
            m = pattern.match(path.name)
            if not m:
                continue
            self._next_index = max(self._next_index, int(m.group(1)) + 1)
            self._committed.append(path.name)
            with tarfile.open(path) as tf:
                self.done_keys.update(name.split(".", 1)[0] for name in tf.getnames())
        if self.done_keys:
            logger.info(
                "rank %d: resuming after %d committed shard(s) holding %d samples",
                self.rank, len(self._committed), len(self.done_keys),
            )

    # -- writing --------------------------------------------------------------------------------
    def write(self, sample: dict[str, Any]) -> bool:
        """Validate, encode and append ``sample``; True if it is in the dataset, False if dropped."""
        self.counts["input"] += 1
        self.last_drop_reason = None
        try:
            members = self._encode(sample)
        except InvalidSample as e:
            return self._drop(e.reason, str(e))
        key = sample["__key__"]
        if key in self.done_keys:
            self.counts["kept"] += 1
            self.counts["already_written"] += 1
            return True
        if key in self._keys_this_run:
            return self._drop("duplicate_key", f"sample key {key} was already written by this task")
        size = sum(_member_size(len(data)) for _, data in members)
        try:
            if self._tar is not None and (
                self._shard_samples >= self.max_samples or self._shard_bytes + size > self.max_bytes
            ):
                self._commit()
            if self._tar is None:
                self._open()
            for name, data in members:
                info = tarfile.TarInfo(f"{key}.{name}")
                info.size, info.mtime, info.mode = len(data), 0, 0o444
                self._tar.addfile(info, io.BytesIO(data))
        except OSError as e:  # disk full: say which file (the open shard is discarded by close/__exit__)
            raise with_path(e, tmp_path_for(self._shard_path)) from e
        self._keys_this_run.add(key)
        self._shard_samples += 1
        self._shard_bytes += size
        self.counts["kept"] += 1
        self.counts["written"] += 1
        return True

    def _encode(self, sample: dict[str, Any]) -> list[tuple[str, bytes]]:
        meta = self.schema.validate(sample)
        members = []
        for name in self.schema.image_fields:
            image = sample.get(name)
            if image is None:
                continue
            try:
                members.append((name, as_jpeg_bytes(image)))
            except ImageError as e:
                raise InvalidSample(f"image_{e.reason}", f"sample {sample['__key__']}: {name}: {e}") from e
        if self.schema.text_field:
            members.append((self.schema.text_field, sample[self.schema.text_field].encode("utf-8")))
        members.append(("json", json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")))
        return members

    def _drop(self, reason: str, message: str) -> bool:
        if self.on_invalid == "raise":
            raise InvalidSample(reason, message)
        self.counts[f"dropped_{reason}"] += 1
        self.last_drop_reason = reason
        logger.warning("dropped (%s): %s", reason, message)
        return False

    def _open(self) -> None:
        self._shard_path = self.data_dir / shard_name(self.split, self.rank, self._next_index)
        self._next_index += 1
        # open across many write() calls; closed by _commit or _discard
        self._tar = tarfile.open(tmp_path_for(self._shard_path), "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115
        self._shard_samples = self._shard_bytes = 0

    def _commit(self) -> None:
        assert self._tar is not None and self._shard_path is not None
        tmp = tmp_path_for(self._shard_path)
        try:
            self._tar.close()
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, self._shard_path)
        except OSError as e:  # disk full while flushing: no partial shard stays behind
            self._discard()
            raise with_path(e, tmp) from e
        self._committed.append(self._shard_path.name)
        logger.debug("committed %s (%d samples)", self._shard_path.name, self._shard_samples)
        self._tar = None

    def _discard(self) -> None:
        if self._tar is not None:
            with contextlib.suppress(OSError):  # closing flushes, which fails again on a full disk
                self._tar.close()
            tmp_path_for(self._shard_path).unlink(missing_ok=True)
            self._tar = None

    def close(self, funnel: Funnel | None = None) -> dict[str, Any]:
        """Commit the open shard and save this rank's counts (and the stages before the writer,
        ``funnel``) to ``stats/{split}-{rank}.json``, which :func:`finalize_dataset` merges."""
        if self._tar is not None:
            self._commit()
        summary = {
            "rank": self.rank,
            "split": self.split,
            "schema": self.schema.name,
            "shards": sorted(self._committed),
            "counts": dict(sorted(self.counts.items())),
            "funnel": funnel.to_list() if funnel else [],
        }
        atomic_write_json(self.output_dir / RANK_STATS_DIR / f"{self.split}-{self.rank:05d}.json", summary)
        return summary

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._discard()
