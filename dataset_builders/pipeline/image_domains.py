"""Corpus rule: skip image domains that hold too many of the crawl's image URLs (spares busy servers).

The paper skips "high-frequency domains" (高頻度ドメインの URL はスキップした). Which domains are
frequent is a property of the whole crawl: every task counts its image URLs per domain (rows
``[domain, count]``, summed within the task), the merge sums the tasks and applies the download
config's limits (``frequent_domain_max_share`` of all URLs once there are ``frequent_domain_min_urls``,
or more than ``frequent_domain_max_count``), and the apply step, placed before the download, drops
those images (``media_dropped_frequent_domain``), so their servers are never contacted.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from datatrove.data import Document, Media, MediaType

from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.rate_limit import domain_of, frequent_domains_from_counts
from dataset_builders.download.result import FREQUENT_DOMAIN
from dataset_builders.pipeline.corpus_rule import CorpusRule


class FrequentImageDomains(CorpusRule):
    name = "image_domains"
    title = "🌐 frequent image domains"
    level = "media"

    def __init__(self, work_dir: str | os.PathLike, config: DownloadConfig | None = None):
        super().__init__(work_dir)
        config = config or DownloadConfig()
        self.max_share = config.frequent_domain_max_share
        self.max_count = config.frequent_domain_max_count
        self.min_urls = config.frequent_domain_min_urls

    def collect(self, doc: Document) -> Iterable[list]:
        return ([domain_of(m.url), 1] for m in doc.media if m.url)

    def combine(self, rows: list[list]) -> list[list]:
        counts: Counter[str] = Counter()
        for domain, n in rows:
            counts[domain] += n
        return [[d, n] for d, n in sorted(counts.items())]

    def decide(self, rows: list[list]) -> frozenset[str]:
        counts: Counter[str] = Counter()
        for domain, n in rows:
            counts[domain] += n
        return frozenset(frequent_domains_from_counts(counts, self.max_share, self.max_count, self.min_urls))

    def decision_to_json(self, decision: frozenset[str]) -> list[str]:
        return sorted(decision)

    def decision_from_json(self, data: list[str]) -> frozenset[str]:
        return frozenset(data)

    def describe(self, decision: frozenset[str]) -> str:
        return f"{len(decision)} domain(s) skipped" + (f": {', '.join(sorted(decision)[:5])}" if decision else "")

    def drop_media(self, doc: Document, media: Media, decision: frozenset[str]) -> str | None:
        if media.type == MediaType.IMAGE and media.url and media.media_bytes is None and domain_of(media.url) in decision:
            return FREQUENT_DOMAIN
        return None
