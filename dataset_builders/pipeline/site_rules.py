"""Corpus rules: what a site repeats on its pages is the site's template, not an article.

OBELICS removes paragraphs repeated across a domain's pages; a page alone cannot tell its own
template apart, the crawl can. Three rules, each counted in *distinct pages of one site* (the page
URL's host without ``www.``), decided from every task's rows (1 and N tasks decide the same) and
applied before anything is downloaded:

* :class:`SiteImages` — an image URL inside the article text of ``min_pages`` pages of a site (a
  signature, a campaign image, a template illustration) is dropped (``media_dropped_repeated_on_site``;
  for pairs, where each document is one image, the pair is dropped). Teaser thumbnails do not count:
  a photo shown in the site's "popular" lists stays in its own article;
* :class:`SiteAlts` (pairs) — an alt text on ``min_pages`` pages of a site (a menu or banner label
  the per-page rules missed) drops its pairs (``dropped_repeated_on_site``);
* :class:`SiteLines` (interleaved) — a sentence on ``min_pages`` pages of a site (a standing notice,
  a footer line) is removed from every document of that site (``lines_dropped_repeated_on_site``);
  a document left with fewer than ``min_sentences`` sentences is dropped (``too_few_sentences``).

Config ``web.site_repetition``: ``enabled``, ``min_pages`` (5: a template repeats on every page, an
article's own image or sentence on one, a quote on a few).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from datatrove.data import Document, DocumentsPipeline, Media

from dataset_builders.pipeline.corpus_rule import ApplyRule, CorpusRule

REASON = "repeated_on_site"


@dataclass(frozen=True)
class SiteRepetitionConfig:
    """Site-template rules (module docstring). Config key ``web.site_repetition``."""

    enabled: bool = True
    min_pages: int = 5


def site_of(url: str) -> str:
    """The site a page belongs to: its host, lower case, without ``www.`` and port."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host.removeprefix("www.")


def page_url(doc: Document) -> str:
    """The page a document (or a pair made from it) came from."""
    return doc.metadata.get("url") or doc.metadata.get("source_url") or ""


def _repeated(rows: list[list], min_pages: int) -> set[tuple[str, str]]:
    """(site, key) pairs seen on at least ``min_pages`` distinct pages (rows are [site, key, page])."""
    pages: dict[tuple[str, str], set[str]] = defaultdict(set)
    for site, key, page in rows:
        pages[(site, key)].add(page)
    return {k for k, v in pages.items() if len(v) >= min_pages}


class _SiteRule(CorpusRule):
    """Rows ``[site, key, page]``, one per distinct key of a page; the decision is the repeated (site, key)."""

    def __init__(self, work_dir: str | os.PathLike, config: SiteRepetitionConfig | None = None):
        super().__init__(work_dir)
        config = config or SiteRepetitionConfig()
        self.enabled, self.min_pages = config.enabled, config.min_pages

    def keys(self, doc: Document) -> Iterable[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def collect(self, doc: Document) -> Iterable[list]:
        page = page_url(doc)
        site = site_of(page)
        if not (self.enabled and site):
            return []
        return [[site, key, page] for key in dict.fromkeys(self.keys(doc))]

    def combine(self, rows: list[list]) -> list[list]:
        return sorted({tuple(r) for r in rows})

    def decide(self, rows: list[list]) -> frozenset[tuple[str, str]]:
        return frozenset(_repeated(rows, self.min_pages))

    def decision_to_json(self, decision: frozenset[tuple[str, str]]) -> list[list[str]]:
        return sorted([list(k) for k in decision])

    def decision_from_json(self, data: list[list[str]]) -> frozenset[tuple[str, str]]:
        return frozenset(tuple(k) for k in data)

    def describe(self, decision: frozenset) -> str:
        return f"{len(decision)} repeated on {len({s for s, _ in decision})} site(s)"


class SiteImages(_SiteRule):
    """Images in the article text of ``min_pages`` pages of one site (interleaved: drops the image)."""

    name = "site_images"
    title = "🧱 images repeated across a site"
    level = "media"

    def keys(self, doc: Document) -> Iterable[str]:
        return (m.url for m in doc.media if m.url and not (m.metadata or {}).get("teaser"))

    def drop_media(self, doc: Document, media: Media, decision) -> str | None:
        return REASON if (site_of(page_url(doc)), media.url) in decision else None


class SitePairImages(SiteImages):
    """:class:`SiteImages` for pairs: the document is the image, so the pair is dropped."""

    name = "site_pair_images"
    level = "document"

    def drop_document(self, doc: Document, decision) -> str | None:
        site = site_of(page_url(doc))
        return REASON if any((site, m.url) in decision for m in doc.media) else None


class SiteAlts(_SiteRule):
    """Alt texts on ``min_pages`` pages of one site (pairs: drops the pair)."""

    name = "site_alts"
    title = "🧱 alt texts repeated across a site"
    level = "document"

    def keys(self, doc: Document) -> Iterable[str]:
        return [doc.text] if doc.text else []

    def drop_document(self, doc: Document, decision) -> str | None:
        return REASON if (site_of(page_url(doc)), doc.text) in decision else None


def sentence_key(sentence: str) -> str:
    """A short stable key for a sentence (rows stay small on large crawls)."""
    return hashlib.sha1(" ".join(sentence.split()).encode("utf-8")).hexdigest()[:16]


class SiteLines(_SiteRule):
    """Sentences on ``min_pages`` pages of one site (interleaved: removed from the document)."""

    name = "site_lines"
    title = "🧱 lines repeated across a site"
    level = "document"

    def __init__(self, work_dir: str | os.PathLike, config: SiteRepetitionConfig | None = None,
                 min_sentences: int = 0, key: str = "sentences"):
        super().__init__(work_dir, config)
        self.min_sentences, self.key = min_sentences, key

    def keys(self, doc: Document) -> Iterable[str]:
        return (sentence_key(s) for s in doc.metadata.get(self.key) or [])

    def remove(self, doc: Document, decision) -> int:
        """Remove the document's repeated sentences in place; returns how many."""
        site = site_of(page_url(doc))
        sentences = doc.metadata.get(self.key) or []
        kept = [s for s in sentences if (site, sentence_key(s)) not in decision]
        doc.metadata[self.key] = kept
        return len(sentences) - len(kept)

    def drop_document(self, doc: Document, decision) -> str | None:
        self.remove(doc, decision)
        return "too_few_sentences" if len(doc.metadata.get(self.key) or []) < self.min_sentences else None

    def apply_step(self) -> ApplyRule:
        return ApplyLines(self)


class ApplyLines(ApplyRule):
    """:class:`SiteLines`' apply step: also counts lines kept and removed, for the funnel's ``(lines)`` row."""

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        decision = self.rule.load_decision()
        for doc in data or ():
            self.stat_update("total")
            removed = self.rule.remove(doc, decision)
            if removed:
                self.stat_update(f"lines_dropped_{REASON}", value=removed)
            n = len(doc.metadata.get(self.rule.key) or [])
            self.stat_update("lines_kept", value=n)
            if n < self.rule.min_sentences:
                self.stat_update("dropped", "dropped_too_few_sentences")
                continue
            self.stat_update("forwarded")
            yield doc


__all__ = ["SiteAlts", "SiteImages", "SiteLines", "SitePairImages", "SiteRepetitionConfig", "site_of"]
