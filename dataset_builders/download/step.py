"""datatrove step: download the images of documents (``Media(type=IMAGE, url, alt)``), resumably.

Documents stream through: up to ``batch_size`` documents wait for their images at once, their image
URLs are fetched concurrently (each URL once), and each document is passed on as soon as its last
image has finished, with ``media_bytes`` and ``metadata`` (status, width, height, original_width,
original_height, format) filled in; media that failed are removed and counted
(``media_dropped_<status>``, plus ``media_kept``). So one slow host (its URLs end at their
``url_deadline`` at the latest) never holds back documents whose images are done. Each document
carries its input position in ``metadata[INPUT_POSITION]``: the document store saves by it and
reads back in input order, so the next stage, and the build, do not depend on download timing.
State lives under ``work_dir/rank_<rank>/``: a killed task resumes without downloading its finished
URLs again.

Frequent domains are a corpus-wide rule: a batch does not see the run, so this step only skips the
domains it is given (``config.skip_domains`` or ``skip_domains=`` as a list or a file, one domain
per line), e.g. computed by a first pass with :func:`dataset_builders.download.frequent_domains`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import field
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.downloader import ImageDownloader
from dataset_builders.download.result import DownloadResult
from dataset_builders.errors import InputNotFound, UserInputError
from dataset_builders.pipeline.document_store import INPUT_POSITION

logger = logging.getLogger(__name__)


def _read_domains(skip_domains: Iterable[str] | str | os.PathLike | None) -> tuple[str, ...]:
    if skip_domains is None:
        return ()
    if isinstance(skip_domains, str | os.PathLike):
        path = Path(skip_domains)
        if not path.is_file():
            raise InputNotFound(f"skip_domains file {path} not found (one domain per line expected)")
        return tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return tuple(skip_domains)


@dataclasses.dataclass
class _Waiting:
    """A document whose images are not all finished yet."""

    doc: Document
    missing: set[str] = field(default_factory=set)
    results: dict[str, DownloadResult] = field(default_factory=dict)


SHARED_LIMITS_DIR = "domain_limits"


class DownloadImages(PipelineStep):
    """Fill ``media_bytes`` of image media by downloading their URLs (see module docstring)."""

    name = "⬇️ download images"
    type = "🖼️ - MEDIA"

    def __init__(self, work_dir: str | os.PathLike, config: DownloadConfig | None = None, batch_size: int = 256,
                 skip_domains: Iterable[str] | str | os.PathLike | None = None):
        super().__init__()
        if batch_size < 1:
            raise UserInputError(f"DownloadImages: batch_size must be >= 1, got {batch_size}")
        config = config or DownloadConfig()
        extra = _read_domains(skip_domains)
        if extra:
            config = dataclasses.replace(config, skip_domains=tuple(config.skip_domains) + extra)
        self.config = config
        self.work_dir = str(work_dir)
        self.batch_size = batch_size

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        downloader = ImageDownloader(self.config, work_dir=Path(self.work_dir) / f"rank_{rank:05d}",
                                     shared_limits=Path(self.work_dir) / SHARED_LIMITS_DIR)  # limits of all tasks
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(downloader.open())
            yield from self._stream(iter(data), downloader, loop)
            logger.info("rank %d: downloaded images: %s", rank, dict(downloader.counts.most_common()))
        finally:
            try:
                loop.run_until_complete(downloader.aclose())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                downloader.close()

    def _stream(self, docs: Iterator[Document], downloader: ImageDownloader,
                loop: asyncio.AbstractEventLoop) -> Iterator[Document]:
        """Admit documents while fewer than ``batch_size`` wait, run the downloads until one finishes, pass
        on every document that became complete; until the input is used up and nothing waits."""
        waiting: dict[str, list[_Waiting]] = {}  # URL in flight -> documents that need it
        tasks: set[asyncio.Task] = set()
        held, position, exhausted = 0, 0, False
        try:
            while True:
                while not exhausted and held < self.batch_size:
                    doc = next(docs, None)
                    if doc is None:
                        exhausted = True
                        break
                    doc.metadata[INPUT_POSITION] = position
                    position += 1
                    entry = _Waiting(doc)
                    for url in dict.fromkeys(m.url for m in doc.media
                                             if m.type == MediaType.IMAGE and m.url and m.media_bytes is None):
                        if url in waiting:
                            waiting[url].append(entry)
                            entry.missing.add(url)
                        elif (known := downloader.known(url)) is not None:
                            entry.results[url] = known
                        else:
                            waiting[url] = [entry]
                            entry.missing.add(url)
                            tasks.add(loop.create_task(downloader.fetch(url)))
                    if entry.missing:
                        held += 1
                    else:
                        yield self._fill(entry)
                if not tasks:
                    return
                with self.track_time(unit="wait"):
                    done, tasks = loop.run_until_complete(asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED))
                ready = []
                for task in done:
                    result: DownloadResult = task.result()
                    for entry in waiting.pop(result.url):
                        entry.results[result.url] = result
                        entry.missing.discard(result.url)
                        if not entry.missing:
                            ready.append(entry)
                for entry in sorted(ready, key=lambda e: e.doc.metadata[INPUT_POSITION]):
                    held -= 1
                    yield self._fill(entry)
        finally:  # also when the consumer stops early: no download outlives the step
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def _fill(self, entry: _Waiting) -> Document:
        """The document with its downloaded images filled in and its failed ones removed (and counted)."""
        doc, kept = entry.doc, []
        for media in doc.media:
            if media.type != MediaType.IMAGE or media.media_bytes is not None:
                kept.append(media)
                continue
            res = entry.results.get(media.url) if media.url else None
            status = res.status if res is not None else "no_url"
            if res is not None and res.ok:
                media.media_bytes = res.image
                media.metadata.update(res.metadata())
                self.update_media_stats(media)
                self.stat_update("media_kept")
                kept.append(media)
            else:
                self.stat_update(f"media_dropped_{status}")
        doc.media = kept
        return doc
