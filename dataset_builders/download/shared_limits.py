"""Per-domain limits shared by every task of a build: politeness that holds on a cluster.

Each task's :class:`~dataset_builders.download.rate_limit.DomainLimiter` keeps its own process to
``per_domain_concurrency`` and ``per_domain_rate``; with N tasks downloading at once a site would see N
times that. :class:`SharedDomainLimits` makes the limits the build's, whatever the number of tasks: the
tasks share them through lock files in the work folder (``<work>/download_cache/domain_limits/``).

- concurrency: ``per_domain_concurrency`` slot files per domain; a request holds ``flock`` on one of
  them while it runs. The kernel drops the lock of a killed task, so no slot is ever lost.
- rate: one file per domain holds the earliest time of its next request start; a task reads and moves
  it forward under ``flock``, so request starts to a domain are ``1 / per_domain_rate`` apart over all tasks.

Why lock files rather than routing each domain to an owner task: documents keep their images
(a document is downloaded by the task that reads it, and only moves on once all its images are done),
and the tasks need no extra stage or shuffle. It holds for every task that shares the work folder:
on one machine always; across nodes where the work folder's filesystem supports ``flock`` (Lustre
mounted with ``-o flock``, NFSv4, GPFS) and the nodes' clocks agree (NTP), as the rate uses wall time.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

POLL_S = 0.02


def _key(domain: str) -> str:
    """``ab/abcdef…``: the domain's files, spread over 256 folders (a crawl has millions of domains)."""
    digest = hashlib.sha1(domain.encode("utf-8")).hexdigest()[:20]
    return f"{digest[:2]}/{digest}"


class SharedDomainLimits:
    """Concurrency slots and request spacing per domain, shared by processes through ``folder``."""

    def __init__(self, folder: str | os.PathLike, per_domain_concurrency: int, per_domain_rate: float):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.concurrency = per_domain_concurrency
        self.interval = 1.0 / per_domain_rate if per_domain_rate > 0 else 0.0

    def _try_slot(self, key: str) -> int | None:
        for i in range(self.concurrency):
            fd = os.open(self.folder / f"{key}.slot{i}", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                os.close(fd)
        return None

    def _claim_start(self, key: str) -> float:
        """Reserve the next request start of the domain; returns how long to wait before it (0: now)."""
        fd = os.open(self.folder / f"{key}.rate", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write: microseconds
            try:
                next_start = float(os.pread(fd, 64, 0).decode("ascii") or 0.0)
            except ValueError:
                next_start = 0.0
            now = time.time()
            if next_start > now:
                return next_start - now
            stamp = f"{now + self.interval:.6f}".encode("ascii")
            os.ftruncate(fd, 0)
            os.pwrite(fd, stamp, 0)
            return 0.0
        finally:
            os.close(fd)

    @contextlib.asynccontextmanager
    async def slot(self, domain: str) -> AsyncIterator[None]:
        """Hold one of the domain's build-wide slots, and start no sooner than its build-wide spacing allows."""
        key = _key(domain)
        (self.folder / key).parent.mkdir(exist_ok=True)
        while (fd := self._try_slot(key)) is None:
            await asyncio.sleep(POLL_S)
        try:
            if self.interval:
                while (wait := self._claim_start(key)) > 0:
                    await asyncio.sleep(wait)
            yield
        finally:
            os.close(fd)


__all__ = ["SharedDomainLimits"]
