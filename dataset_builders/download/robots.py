"""robots.txt (fetched once per host and cached) and the ``X-Robots-Tag`` opt-out header.

Rules follow RFC 9309: a 4xx robots.txt means "no rules" (everything allowed); a 5xx or an
unreachable server means "assume complete disallow" (status ``robots_unreachable``, retryable later).
Concurrent URLs of one host share a single robots.txt request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

logger = logging.getLogger(__name__)

#: ``fetch(url) -> (http status or None when unreachable, body bytes)``
RobotsFetch = Callable[[str], Awaitable[tuple[int | None, bytes]]]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class RobotsCache:
    """Per-origin robots.txt verdicts; each origin's file is requested at most once per cache."""

    def __init__(self, agent: str, fetch: RobotsFetch):
        self.agent = agent
        self._fetch = fetch
        self._parsers: dict[str, RobotFileParser | None] = {}  # None: unreachable
        self._no_file: set[str] = set()  # origins whose robots.txt answered 4xx (no rules)
        self._inflight: dict[str, asyncio.Future] = {}
        self.fetches = 0
        self.max_hosts = 100_000

    async def _load(self, origin: str) -> RobotFileParser | None:
        self.fetches += 1
        try:
            status, body = await self._fetch(origin + "/robots.txt")
        except Exception as e:  # any failure means "unreachable"
            logger.info("robots.txt of %s unreachable: %s", origin, e)
            status, body = None, b""
        parser = RobotFileParser()
        if status is None or status >= 500:
            return None
        if status >= 400:
            parser.parse([])  # RFC 9309: unavailable robots.txt allows everything
            self._no_file.add(origin)
        else:
            parser.parse(body.decode("utf-8", errors="replace").splitlines())
        return parser

    async def allowed(self, url: str) -> bool | None:
        """True/False from robots.txt of ``url``'s origin; ``None`` when it could not be read (5xx/network)."""
        origin = origin_of(url)
        if origin not in self._parsers:
            fut = self._inflight.get(origin)
            if fut is None:
                fut = asyncio.ensure_future(self._load(origin))
                self._inflight[origin] = fut
                fut.add_done_callback(lambda f, o=origin: self._settle(o, f))
            await asyncio.shield(fut)
        parser = self._parsers.get(origin)
        if parser is None:
            return None
        return parser.can_fetch(self.agent, url)

    def has_rules(self, url: str) -> bool:
        """Whether ``url``'s origin served a robots.txt (False after a 4xx: no rules apply)."""
        return origin_of(url) not in self._no_file

    def _settle(self, origin: str, fut: asyncio.Future) -> None:
        self._inflight.pop(origin, None)
        if not fut.cancelled() and fut.exception() is None:
            if len(self._parsers) >= self.max_hosts:  # bound memory: forget the oldest host
                oldest = next(iter(self._parsers))
                del self._parsers[oldest]
                self._no_file.discard(oldest)
            self._parsers[origin] = fut.result()

    def clear_inflight(self) -> None:
        for fut in list(self._inflight.values()):
            fut.cancel()
        self._inflight.clear()


def x_robots_forbids(values: Iterable[str], directives: Iterable[str], agent: str) -> str | None:
    """The first opt-out directive in ``X-Robots-Tag`` header values that applies to us, else ``None``.

    A value is a comma-separated directive list, optionally scoped to one crawler (``otherbot: noai``);
    scoped lists only count when they name our ``agent`` token.
    """
    wanted = {d.lower() for d in directives}
    agent = agent.lower()
    for value in values:
        scope = None
        for raw in value.split(","):
            item = raw.strip().lower()
            if ":" in item:
                head, _, rest = item.partition(":")
                if head.strip() not in wanted and " " not in head.strip():
                    scope, item = head.strip(), rest.strip()
            if scope is not None and scope != agent:
                continue
            if item in wanted:
                return item
    return None
