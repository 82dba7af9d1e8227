"""datatrove step: download the images of documents (``Media(type=IMAGE, url, alt)``), resumably.

Documents are processed in batches: the image URLs of a batch are fetched concurrently, then the
documents are yielded in input order with ``media_bytes`` and ``metadata`` (status, width, height,
original_width, original_height, format) filled in; media that failed are removed and counted
(``media_dropped_<status>``, plus ``media_kept``). State lives under ``work_dir/rank_<rank>/``: a
killed task resumes without downloading its finished URLs again.

Frequent domains are a corpus-wide rule: a batch does not see the run, so this step only skips the
domains it is given (``config.skip_domains`` or ``skip_domains=`` as a list or a file, one domain
per line), e.g. computed by a first pass with :func:`dataset_builders.download.frequent_domains`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from datatrove.data import DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.downloader import ImageDownloader
from dataset_builders.errors import InputNotFound, UserInputError

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
        downloader = ImageDownloader(self.config, work_dir=Path(self.work_dir) / f"rank_{rank:05d}")
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(downloader.open())
            it = iter(data)
            while batch := list(itertools.islice(it, self.batch_size)):
                urls = [m.url for doc in batch for m in doc.media
                        if m.type == MediaType.IMAGE and m.url and m.media_bytes is None]
                with self.track_time(unit="batch"):
                    results = loop.run_until_complete(downloader.fetch_many(urls, skip_frequent=False))
                for doc in batch:
                    kept = []
                    for media in doc.media:
                        if media.type != MediaType.IMAGE or media.media_bytes is not None:
                            kept.append(media)
                            continue
                        res = results.get(media.url) if media.url else None
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
                    yield doc
        finally:
            try:
                loop.run_until_complete(downloader.aclose())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()
                downloader.close()
