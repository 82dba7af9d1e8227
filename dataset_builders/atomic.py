"""Atomic file output: write under a temporary name, fsync, then rename.

A reader (or a resumed run) therefore sees either the previous complete file or the new complete
file, never a partial one. Every file the toolkit produces goes through these helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TMP_SUFFIX = ".tmp"


def tmp_path_for(path: str | os.PathLike) -> Path:
    """The temporary name a file is written under before it is renamed to ``path``."""
    path = Path(path)
    return path.with_name(path.name + TMP_SUFFIX)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **kwargs: Any) -> Iterator[IO]:
    """Open ``path`` for writing so that it only appears, complete, when the block exits cleanly."""
    if not any(m in mode for m in "wx"):
        raise ValueError(f"atomic_open writes files; got mode {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(path)
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(e, OSError) and e.filename is None:  # a failed write() names no file
            raise with_path(e, tmp) from e
        raise


def with_path(error: OSError, path: str | os.PathLike) -> OSError:
    """``error`` naming ``path`` (a failed ``write``/``close`` — disk full — names no file); same errno and
    class (``OSError(errno, …)`` picks the subclass)."""
    if error.filename is not None:
        return error
    return OSError(error.errno, error.strerror or str(error), os.fspath(path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n")


def remove_stale_tmp(directory: str | os.PathLike, pattern: str = "*") -> list[Path]:
    """Delete leftovers of a killed run (``*.tmp`` files matching ``pattern``); returns what was removed."""
    removed = []
    for p in Path(directory).glob(pattern + TMP_SUFFIX):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed
