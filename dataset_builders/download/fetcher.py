"""One URL over the network: SSRF check, robots.txt, polite slot, manual redirects, capped body, retries.

Every hop of a redirect chain is handled like a new request: its host is resolved and checked by the
SSRF guard before any connection, its robots.txt is consulted, and it waits for a slot of its own
domain (never while holding another domain's slot). Transient failures (429, 5xx, timeouts,
connection errors) are retried with exponential backoff and jitter, or after ``Retry-After`` when
the server sent one (capped by ``max_retry_after``); a 429/503 ``Retry-After`` also pauses the whole
domain. The URL's deadline (``url_deadline``) bounds everything from its first step on, waits
included: for a slot of a busy domain, for robots.txt, for DNS, for an answer. A URL that reaches it
ends with status ``deadline``, so a slow drip or a host that never answers always ends on time.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from dataset_builders.download import result as st
from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.rate_limit import DomainLimiter
from dataset_builders.download.robots import RobotsCache, x_robots_forbids
from dataset_builders.download.ssrf import AddressGuard, HostNotFound, SSRFBlocked

logger = logging.getLogger(__name__)

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class FetchOutcome:
    """Raw result of fetching one URL (before decoding)."""

    status: str
    body: bytes | None = None
    final_url: str | None = None
    attempts: int = 0
    error: str | None = None
    retry_after: float | None = None
    http_status: int | None = None  # of the last response
    content_type: str | None = None
    robots_txt: str | None = None  # decision for the last hop: allowed, no_robots_txt, not_checked
    x_robots_tag: str | None = None


@dataclass
class _Redirect:
    location: str


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _split(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, or ``None`` when it is not one we may fetch (not http(s),
    no host, a bad port, or a host name the IDNA codec refuses)."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    try:  # the codec name resolution uses: a host it refuses (empty or 64+ char label) cannot be fetched
        host.encode("idna")
    except UnicodeError:
        return None
    return scheme, host.rstrip("."), port


class Fetcher:
    """Fetches URLs with a shared session, guard, limiter and robots cache (see module docstring)."""

    def __init__(self, session: aiohttp.ClientSession, config: DownloadConfig, guard: AddressGuard,
                 limiter: DomainLimiter, robots: RobotsCache | None):
        self.session = session
        self.config = config
        self.guard = guard
        self.limiter = limiter
        self.robots = robots

    # -- retries -----------------------------------------------------------------------------------
    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before attempt ``attempt + 1``: the server's ``Retry-After`` (capped) or jittered backoff."""
        cfg = self.config
        if retry_after is not None:
            return min(retry_after, cfg.max_retry_after)
        ceiling = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)  # "equal jitter": never below half the ceiling

    async def fetch(self, url: str) -> FetchOutcome:
        """Fetch ``url`` with retries; the outcome's status is ``ok`` or the final reason."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.url_deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                async with asyncio.timeout_at(deadline):
                    outcome = await self._attempt(url, deadline)
            except TimeoutError:
                return FetchOutcome(st.DEADLINE, final_url=url, attempts=attempt,
                                    error=f"URL deadline ({cfg.url_deadline:g}s) reached")
            outcome.attempts = attempt
            if (outcome.status == st.OK or not st.is_retryable(outcome.status)
                    or outcome.status == st.ROBOTS_UNREACHABLE or attempt > cfg.max_retries):
                return outcome
            wait = self.backoff(attempt, outcome.retry_after)
            if loop.time() + wait >= deadline:
                outcome.error = (outcome.error or outcome.status) + " (no time left for another attempt)"
                return outcome
            logger.debug("retrying %s in %.2fs after %s (attempt %d)", url, wait, outcome.status, attempt)
            await asyncio.sleep(wait)

    # -- one attempt: a redirect chain ---------------------------------------------------------
    async def _attempt(self, url: str, deadline: float) -> FetchOutcome:
        cfg = self.config
        loop = asyncio.get_running_loop()
        current = url
        for _hop in range(cfg.max_redirects + 1):
            split = _split(current)
            if split is None:
                return FetchOutcome(st.BAD_URL, final_url=current,
                                    error=f"not an http(s) URL with a valid host: {current[:200]}")
            _, host, port = split
            try:
                await self.guard.check(host, port)
            except SSRFBlocked as e:
                return FetchOutcome(st.SSRF_BLOCKED, final_url=current, error=str(e))
            except HostNotFound as e:
                return FetchOutcome(st.DNS_ERROR, final_url=current, error=str(e))
            robots = "not_checked"
            if self.robots is not None:
                verdict = await self.robots.allowed(current)
                if verdict is None:
                    return FetchOutcome(st.ROBOTS_UNREACHABLE, final_url=current,
                                        error="robots.txt unreachable (RFC 9309: assume disallow)")
                if not verdict:
                    return FetchOutcome(st.ROBOTS_DISALLOWED, final_url=current)
                robots = "allowed" if self.robots.has_rules(current) else "no_robots_txt"
            if deadline <= loop.time():
                return FetchOutcome(st.DEADLINE, final_url=current, error="URL deadline reached")
            res = await self._request(current, host, cfg.request_timeout)
            if isinstance(res, _Redirect):
                current = urljoin(current, res.location)
                continue
            res.robots_txt = robots
            return res
        return FetchOutcome(st.TOO_MANY_REDIRECTS, final_url=current,
                            error=f"more than {cfg.max_redirects} redirects")

    async def _request(self, url: str, domain: str, budget: float) -> FetchOutcome | _Redirect:
        cfg = self.config
        async with self.limiter.slot(domain):
            try:
                async with asyncio.timeout(budget), self.session.get(url, allow_redirects=False) as resp:
                    if resp.status in REDIRECT_CODES:
                        location = resp.headers.get("Location")
                        if not location:
                            return FetchOutcome(st.http_status(resp.status), final_url=url,
                                                error="redirect without Location")
                        return _Redirect(location)
                    if resp.status not in (200, 203):
                        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                        if retry_after is not None and resp.status in (429, 503):
                            self.limiter.defer(domain, min(retry_after, cfg.max_retry_after))
                        return FetchOutcome(st.http_status(resp.status), final_url=url, retry_after=retry_after,
                                            http_status=resp.status)
                    x_robots = resp.headers.getall("X-Robots-Tag", [])
                    if cfg.x_robots_directives:
                        directive = x_robots_forbids(x_robots, cfg.x_robots_directives, cfg.agent_token)
                        if directive:
                            return FetchOutcome(st.X_ROBOTS_NOAI, final_url=url, error=f"X-Robots-Tag: {directive}",
                                                http_status=resp.status)
                    body = await self._read_capped(resp, cfg.max_bytes)
                    if body is None:
                        resp.close()  # drop the connection instead of draining the rest
                        return FetchOutcome(st.TOO_LARGE, final_url=url, error=f"body over {cfg.max_bytes} bytes",
                                            http_status=resp.status)
                    return FetchOutcome(st.OK, body=body, final_url=url, http_status=resp.status,
                                        content_type=resp.headers.get("Content-Type"),
                                        x_robots_tag=", ".join(x_robots) or None)
            except TimeoutError as e:
                return FetchOutcome(st.TIMEOUT, final_url=url, error=f"timed out: {type(e).__name__}")
            except aiohttp.ClientConnectorDNSError as e:
                cause = e.os_error
                if isinstance(cause, SSRFBlocked):
                    return FetchOutcome(st.SSRF_BLOCKED, final_url=url, error=str(cause))
                return FetchOutcome(st.DNS_ERROR, final_url=url, error=str(e))
            except aiohttp.InvalidURL as e:
                return FetchOutcome(st.BAD_URL, final_url=url, error=str(e))
            except (aiohttp.ClientError, OSError, ValueError) as e:
                return FetchOutcome(st.CONNECTION_ERROR, final_url=url, error=f"{type(e).__name__}: {e}")

    @staticmethod
    async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes | None:
        """The body, or ``None`` as soon as it is known to exceed ``max_bytes`` (nothing more is read)."""
        if resp.content_length is not None and resp.content_length > max_bytes:
            return None
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(1 << 16):
            buf += chunk
            if len(buf) > max_bytes:
                return None
        return bytes(buf)

    # -- robots.txt ------------------------------------------------------------------------------
    async def fetch_robots(self, url: str) -> tuple[int | None, bytes]:
        """(status, body) of a robots.txt (redirects followed, SSRF-checked); status ``None`` if unreachable."""
        cfg = self.config
        current = url
        for _hop in range(max(cfg.max_redirects, 5) + 1):
            split = _split(current)
            if split is None:
                return None, b""
            _, host, port = split
            try:
                await self.guard.check(host, port)
            except (SSRFBlocked, HostNotFound) as e:
                logger.info("robots.txt %s: %s", current, e)
                return None, b""
            async with self.limiter.slot(host):
                try:
                    async with asyncio.timeout(cfg.request_timeout), \
                            self.session.get(current, allow_redirects=False) as resp:
                        if resp.status in REDIRECT_CODES and resp.headers.get("Location"):
                            current = urljoin(current, resp.headers["Location"])
                            continue
                        if resp.status != 200:
                            return resp.status, b""
                        buf = bytearray()
                        async for chunk in resp.content.iter_chunked(1 << 16):
                            buf += chunk
                            if len(buf) >= cfg.robots_max_bytes:  # RFC 9309: parse at least 500 KiB
                                resp.close()
                                break
                        return 200, bytes(buf[: cfg.robots_max_bytes])
                except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as e:
                    logger.info("robots.txt %s unreachable: %s", current, e)
                    return None, b""
        return None, b""
