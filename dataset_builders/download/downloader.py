"""The image downloader: many URLs in, one :class:`DownloadResult` per URL out, resumable on disk.

``ImageDownloader`` ties the pieces together: it skips URLs already finished in an earlier (possibly
killed) run, marks frequent domains, schedules the rest round-robin over domains with a bounded
window of tasks, fetches them politely (:mod:`.fetcher`), decodes and resizes them in a small thread
pool (:mod:`.transform`), and persists each result (:mod:`.status_log`). Standalone use::

    dl = ImageDownloader(DownloadConfig(), work_dir="out/download/rank_00000")
    results = dl.download(urls)            # or: async with dl: await dl.fetch_many(urls)
    dl.close()

A caller that wants each result as soon as it exists (the datatrove step does, so that one slow
host never holds back finished documents) asks :meth:`ImageDownloader.known` first and runs
:meth:`ImageDownloader.fetch` for the rest, as concurrent tasks of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import aiohttp

from dataset_builders.download import result as st
from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.fetcher import Fetcher
from dataset_builders.download.rate_limit import (
    DomainLimiter,
    domain_of,
    frequent_domains,
    interleave_by_domain,
)
from dataset_builders.download.result import DownloadResult
from dataset_builders.download.robots import RobotsCache
from dataset_builders.download.shared_limits import SharedDomainLimits
from dataset_builders.download.ssrf import AddressGuard, PinnedResolver
from dataset_builders.download.status_log import StatusStore
from dataset_builders.download.transform import prepare_image
from dataset_builders.images import ImageError

logger = logging.getLogger(__name__)

ACCEPT = "image/avif,image/webp,image/png,image/jpeg,image/*;q=0.8,*/*;q=0.5"


class ImageDownloader:
    """Polite, SSRF-safe, resumable downloader (see :class:`DownloadConfig` for every knob).

    ``work_dir`` (optional) holds this process's status log and image chunks; with it, URLs finished
    by an earlier run are answered from disk instead of the network. One process per ``work_dir``.
    """

    def __init__(self, config: DownloadConfig | None = None, work_dir: str | os.PathLike | None = None,
                 shared_limits: str | os.PathLike | None = None):
        self.config = config or DownloadConfig()
        self.shared_limits = shared_limits  # folder of the build-wide per-domain limits (shared_limits.py)
        cfg = self.config
        self.store = StatusStore(work_dir) if work_dir is not None else None
        self.guard = AddressGuard(cfg.ssrf_guard, cfg.allow_networks, cfg.static_hosts, timeout=cfg.connect_timeout)
        self.robots = RobotsCache(cfg.agent_token, self._fetch_robots) if cfg.respect_robots else None
        self._session: aiohttp.ClientSession | None = None
        self._fetcher: Fetcher | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.counts: Counter[str] = Counter()  # statuses of everything returned so far

    # -- lifecycle -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Create the HTTP session, limiter and decode pool (inside the running event loop)."""
        if self._session is not None:
            return
        cfg = self.config
        # force_close: one connection per request. A kept-alive connection trusts the server to end each
        # answer where its Content-Length says; a body longer than that would answer the next URL sent
        # on the connection with the wrong bytes (tests/faults/test_hostile_servers.py).
        connector = aiohttp.TCPConnector(resolver=PinnedResolver(self.guard), use_dns_cache=False,
                                         limit=cfg.max_concurrency * 2, limit_per_host=0, force_close=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=cfg.connect_timeout, sock_read=cfg.read_timeout),
            headers={"User-Agent": cfg.user_agent, "Accept": ACCEPT},
            trust_env=False,  # never route through environment proxies (they would bypass the SSRF guard)
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        shared = (SharedDomainLimits(self.shared_limits, cfg.per_domain_concurrency, cfg.per_domain_rate)
                  if self.shared_limits is not None else None)
        limiter = DomainLimiter(cfg.max_concurrency, cfg.per_domain_concurrency, cfg.per_domain_rate, shared)
        self._fetcher = Fetcher(self._session, cfg, self.guard, limiter, self.robots)
        self._pool = ThreadPoolExecutor(cfg.decode_workers, thread_name_prefix="ja-vila-decode")

    async def aclose(self) -> None:
        """Close the session and the decode pool; persisted state stays (call :meth:`close` at the end)."""
        if self.robots is not None:
            self.robots.clear_inflight()
        if self._session is not None:
            await self._session.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._session = self._fetcher = self._pool = None
        if self.store is not None:
            self.store.flush()

    def close(self) -> None:
        """Flush and close the status log (after the last :meth:`download` / :meth:`fetch_many`)."""
        if self.store is not None:
            self.store.close()

    async def __aenter__(self) -> ImageDownloader:
        await self.open()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def _fetch_robots(self, url: str) -> tuple[int | None, bytes]:
        if self._fetcher is None:
            return None, b""
        return await self._fetcher.fetch_robots(url)

    # -- public API --------------------------------------------------------------------------------
    def download(self, urls: Iterable[str]) -> dict[str, DownloadResult]:
        """Synchronous :meth:`fetch_many` (runs its own event loop; not for use inside one)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("ImageDownloader.download() was called inside a running event loop; "
                               "use `await downloader.fetch_many(urls)` there instead")

        async def _run() -> dict[str, DownloadResult]:
            try:
                return await self.fetch_many(urls)
            finally:
                await self.aclose()

        return asyncio.run(_run())

    async def fetch_many(self, urls: Iterable[str], *, skip_frequent: bool = True) -> dict[str, DownloadResult]:
        """Download ``urls`` (duplicates fetched once); returns ``{url: result}`` in input order.

        ``skip_frequent`` applies the frequent-domain rule to this list (a run's URLs); callers that see
        a run in batches pass ``False`` and put a precomputed list in ``config.skip_domains`` instead.
        """
        cfg = self.config
        urls = list(dict.fromkeys(urls))
        results: dict[str, DownloadResult] = {}
        todo = []
        for u in urls:
            earlier = self._finished(u)
            if earlier is not None:
                results[u] = earlier
            else:
                todo.append(u)
        skip = set(cfg.skip_domains)
        if skip_frequent:
            skip |= frequent_domains(urls, cfg.frequent_domain_max_share, cfg.frequent_domain_max_count,
                                     cfg.frequent_domain_min_urls)
        net = []
        for u in todo:
            if domain_of(u) in skip:
                results[u] = DownloadResult(u, st.FREQUENT_DOMAIN)
            else:
                net.append(u)
        if net:
            opened_here = self._session is None
            if opened_here:
                await self.open()
            try:
                await self._run(interleave_by_domain(net), results)
            finally:
                if self.store is not None:
                    self.store.flush()
                if opened_here:
                    await self.aclose()
        out = {u: results[u] for u in urls}
        batch_counts = Counter(r.status for r in out.values())
        self.counts.update(batch_counts)
        logger.info("downloaded %d URLs (%d from earlier runs): %s", len(urls), len(urls) - len(todo),
                    dict(batch_counts.most_common()))
        return out

    def known(self, url: str) -> DownloadResult | None:
        """The result of ``url`` without the network: finished earlier (this run or a killed one; failures
        only when ``retry_failed`` is off or they are final) or on a skipped domain; ``None`` otherwise."""
        earlier = self._finished(url)
        if earlier is not None:
            return earlier
        if domain_of(url) in self.config.skip_domains:
            return DownloadResult(url, st.FREQUENT_DOMAIN)
        return None

    async def fetch(self, url: str) -> DownloadResult:
        """Download one URL now (after :meth:`open`) and persist its result; never raises for a bad URL."""
        result = await self._one(url)
        self._keep(result)
        self.counts[result.status] += 1
        return result

    # -- internals -------------------------------------------------------------------------------
    def _finished(self, url: str) -> DownloadResult | None:
        if self.store is None:
            return None
        rec = self.store.record(url)
        if rec is not None and (rec["status"] == st.OK
                                or not (self.config.retry_failed and st.is_retryable(rec["status"]))):
            return self.store.get(url)
        return None

    def _keep(self, result: DownloadResult) -> None:
        """Persist a fresh result (flushed in groups: ``flush_every`` results or ``flush_interval`` seconds)."""
        cfg = self.config
        if self.store is None:
            return
        self.store.add(result)
        if self.store.pending >= cfg.flush_every or self.store.seconds_since_flush() >= cfg.flush_interval:
            self.store.flush()

    async def _run(self, urls: list[str], results: dict[str, DownloadResult]) -> None:
        limit = self.config.pending_limit
        pending: set[asyncio.Task] = set()
        try:
            for u in urls:
                pending.add(asyncio.ensure_future(self._one(u)))
                if len(pending) >= limit:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    self._collect(done, results)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                self._collect(done, results)
        finally:
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _collect(self, done: set[asyncio.Task], results: dict[str, DownloadResult]) -> None:
        for t in done:
            r: DownloadResult = t.result()
            results[r.url] = r
            self._keep(r)

    async def _one(self, url: str) -> DownloadResult:
        cfg = self.config
        try:
            out = await self._fetcher.fetch(url)
            seen = {"final_url": out.final_url, "attempts": out.attempts, "http_status": out.http_status,
                    "content_type": out.content_type, "robots_txt": out.robots_txt, "x_robots_tag": out.x_robots_tag}
            if out.status != st.OK:
                logger.debug("%s: %s (%s)", url, out.status, out.error)
                return DownloadResult(url, out.status, error=out.error, **seen)
            loop = asyncio.get_running_loop()
            try:
                prep, digest = await loop.run_in_executor(self._pool, _prepare_and_hash, out.body, cfg.max_side,
                                                          cfg.max_pixels, cfg.jpeg_quality)
            except ImageError as e:
                logger.debug("%s: %s (%s)", url, e.reason, e)
                return DownloadResult(url, e.reason, error=str(e), **seen)
            return DownloadResult(url, st.OK, image=prep.data, width=prep.width, height=prep.height,
                                  original_width=prep.original_width, original_height=prep.original_height,
                                  format=prep.format, sha256=digest, **seen)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # one bad URL never stops a run
            logger.warning("%s: unexpected %s: %s", url, type(e).__name__, e)
            return DownloadResult(url, st.INTERNAL_ERROR, error=f"{type(e).__name__}: {e}")


def _prepare_and_hash(body: bytes, max_side: int, max_pixels: int, quality: int):
    """:func:`prepare_image` plus the SHA-256 of the bytes as served (both off the event loop)."""
    return prepare_image(body, max_side, max_pixels, quality), hashlib.sha256(body).hexdigest()
