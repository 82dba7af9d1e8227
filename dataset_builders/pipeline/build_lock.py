"""One build per work folder at a time: an exclusive lock the driver holds for the whole build.

Two builds on the same work folder (the same ``--output``) would write the same shards, stores and
completion markers, and one of them crashes on the other's renamed ``.tmp`` files. The driver takes
``flock(LOCK_EX)`` on ``<work>/build.lock`` before anything else and keeps it until the build ends; a
second build fails at once with one line saying who holds it (pid, host, since).

Why ``flock`` rather than a pid file: the kernel releases the lock when its last holder dies, ``kill -9``
included, so a lock left by a dead build is simply taken over — there is no stale-pid guessing. Workers
forked by the local executor share the driver's open lock file, so while an orphaned worker lives the
work folder stays locked too. On a cluster the driver runs on one node; the work folder's filesystem
must support ``flock`` across nodes (Lustre with ``-o flock``, NFSv4) for two drivers on two login
nodes to see each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from dataset_builders.errors import UserInputError

LOCK = "build.lock"


class BuildLocked(UserInputError):
    """Another live build holds the work folder."""


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    pid, host = info.get("pid", "?"), info.get("host", "?")
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"])) if "started" in info else "?"
    text = f"pid {pid} on {host}, since {since}"
    if host == socket.gethostname() and isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            text += f"; pid {pid} is gone but processes it started still run"
        except PermissionError:
            pass
    return text


@contextlib.contextmanager
def build_lock(work: str | os.PathLike) -> Iterator[Path]:
    """Hold ``<work>/build.lock`` exclusively for the ``with`` block, or raise :class:`BuildLocked`."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    path = work / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildLocked(
                f"{work} is in use by another build ({_holder(fd)}): wait for it to finish or stop it, or build "
                "into another --output / --work-dir (a lock left by a build that died is taken over by itself)"
            ) from None
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock (forked workers that still hold the file keep it locked)


__all__ = ["LOCK", "BuildLocked", "build_lock"]
