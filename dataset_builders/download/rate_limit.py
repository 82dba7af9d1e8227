"""Politeness in time: per-domain concurrency and request rate, a global cap, and frequent-domain skipping.

A request to a domain waits, in this order, for: a slot of that domain (``per_domain_concurrency``),
the end of any back-off the domain asked for (``Retry-After``), a global slot (``max_concurrency``),
and the domain's minimum interval between request starts (``1 / per_domain_rate``). Waiting for a
busy domain never holds a global slot, so one slow domain cannot starve the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from urllib.parse import urlsplit

from dataset_builders.download.shared_limits import SharedDomainLimits


def domain_of(url: str) -> str:
    """The politeness key of a URL: its lower-cased host name (no port); ``""`` if it has none."""
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


class DomainLimiter:
    """Per-domain semaphores, rate spacing and back-off deadlines, plus the global semaphore."""

    def __init__(self, max_concurrency: int, per_domain_concurrency: int, per_domain_rate: float,
                 shared: SharedDomainLimits | None = None):
        self.shared = shared  # the build's limits over all its tasks (shared_limits.py); None: this process only
        self.global_slots = asyncio.Semaphore(max_concurrency)
        self.per_domain_concurrency = per_domain_concurrency
        self.interval = 1.0 / per_domain_rate if per_domain_rate > 0 else 0.0
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._users: Counter[str] = Counter()
        self._next_start: dict[str, float] = {}
        self._not_before: dict[str, float] = {}

    def defer(self, domain: str, seconds: float) -> None:
        """The domain asked us to wait (429/503 with ``Retry-After``): no new request before then."""
        until = time.monotonic() + max(seconds, 0.0)
        if until > self._not_before.get(domain, 0.0):
            self._not_before[domain] = until

    async def _sleep_until(self, when: float) -> None:
        delay = when - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def slot(self, domain: str) -> AsyncIterator[None]:
        """Hold one request slot of ``domain`` (and one global slot) for the ``async with`` body."""
        sem = self._sems.get(domain)
        if sem is None:
            sem = self._sems[domain] = asyncio.Semaphore(self.per_domain_concurrency)
        self._users[domain] += 1
        try:
            async with sem:
                while (nb := self._not_before.get(domain, 0.0)) > time.monotonic():
                    await self._sleep_until(nb)
                async with self.shared.slot(domain) if self.shared else contextlib.nullcontext(), self.global_slots:
                    if self.interval:
                        # check-and-set without an await in between: starts are at least `interval` apart
                        while (start := self._next_start.get(domain, 0.0)) > time.monotonic():
                            await self._sleep_until(start)
                        self._next_start[domain] = time.monotonic() + self.interval
                    yield
        finally:
            self._users[domain] -= 1
            if self._users[domain] <= 0:  # forget idle domains so memory follows the live set
                del self._users[domain]
                self._sems.pop(domain, None)
                if self._next_start.get(domain, 0.0) <= time.monotonic():
                    self._next_start.pop(domain, None)
                if self._not_before.get(domain, 0.0) <= time.monotonic():
                    self._not_before.pop(domain, None)


def frequent_domains(urls: Iterable[str], max_share: float | None, max_count: int | None,
                     min_urls: int = 0) -> set[str]:
    """Domains holding too many of ``urls``: more than ``max_count`` URLs, or more than ``max_share`` of
    them when there are at least ``min_urls``. Depends only on the multiset of URLs, not their order."""
    return frequent_domains_from_counts(Counter(domain_of(u) for u in urls), max_share, max_count, min_urls)


def frequent_domains_from_counts(counts: Counter[str], max_share: float | None, max_count: int | None,
                                 min_urls: int = 0) -> set[str]:
    """:func:`frequent_domains` on URL counts per domain (e.g. summed over the tasks of a build)."""
    total = sum(counts.values())
    out = set()
    for dom, n in counts.items():
        too_many = max_count is not None and n > max_count
        too_big_share = max_share is not None and total >= min_urls and n > max_share * total
        if too_many or too_big_share:
            out.add(dom)
    out.discard("")
    return out


def interleave_by_domain(urls: Iterable[str]) -> list[str]:
    """Round-robin over domains (first URL of each domain, then the second, ...) to spread the load."""
    groups: dict[str, list[str]] = defaultdict(list)
    for u in urls:
        groups[domain_of(u)].append(u)
    sentinel = object()
    return [u for row in itertools.zip_longest(*groups.values(), fillvalue=sentinel) for u in row
            if u is not sentinel]
