"""The corpus-wide count of image URLs per domain, so the downloader can spare busy servers.

The paper skips "high-frequency domains" (高頻度ドメインの URL はスキップした). Which domains are
frequent is a property of the whole crawl, so a first pass counts image URLs per domain in every
task (:class:`CountImageDomains`), :func:`merge_domain_counts` sums the tasks and writes the skip
list the download stage reads (``DownloadImages(skip_domains=path)``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from dataset_builders.atomic import atomic_write_json, atomic_write_text
from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.rate_limit import domain_of, frequent_domains_from_counts

COUNTS_DIR = "image_domains"
SKIP_FILE = "skip_domains.txt"


class CountImageDomains(PipelineStep):
    """Count this task's image URLs per domain into ``<work>/image_domains/<rank>.json``."""

    type = "📊 - STATS"
    name = "count image domains"

    def __init__(self, work_dir: str | os.PathLike):
        super().__init__()
        self.work_dir = str(work_dir)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        counts: Counter[str] = Counter()
        for doc in data or []:
            counts.update(domain_of(m.url) for m in doc.media if m.url)
            yield doc
        atomic_write_json(Path(self.work_dir) / COUNTS_DIR / f"{rank:05d}.json", dict(sorted(counts.items())))


def merge_domain_counts(work_dir: str | os.PathLike, config: DownloadConfig) -> Path:
    """Sum every task's counts, apply the config's frequent-domain limits, write the skip list."""
    total: Counter[str] = Counter()
    for path in sorted((Path(work_dir) / COUNTS_DIR).glob("*.json")):
        total.update(json.loads(path.read_text(encoding="utf-8")))
    skip = frequent_domains_from_counts(
        total, config.frequent_domain_max_share, config.frequent_domain_max_count, config.frequent_domain_min_urls
    )
    out = Path(work_dir) / SKIP_FILE
    atomic_write_text(out, "".join(f"{d}\n" for d in sorted(skip)))
    return out
