"""Corpus rule for pairs (paper §3): drop alt texts that occur 10 or more times, then keep one pair
per (image pHash, alt text).

Every task collects ``{id, alt, phash}`` of its pairs; :func:`decide_frequency_drops` decides from
the union — the most frequent alts are counted over all occurrences, and among duplicates of a
(pHash, alt) the pair with the smallest id is kept — so the result does not depend on how many
tasks ran or in which order; the apply step drops the named pairs with their reason.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable

from datatrove.data import Document

from dataset_builders.pipeline.corpus_rule import CorpusRule

MAX_ALT_OCCURRENCES = 10


def decide_frequency_drops(rows: list[dict], max_alt_occurrences: int = MAX_ALT_OCCURRENCES) -> dict[str, str]:
    """Pair ids to drop with their reason: ``frequent_alt`` (alt seen >= ``max_alt_occurrences``
    times in the corpus), then ``duplicate_pair`` (not the smallest id of its (pHash, alt))."""
    alt_counts = Counter(r["alt"] for r in rows)
    drops = {r["id"]: "frequent_alt" for r in rows if alt_counts[r["alt"]] >= max_alt_occurrences}
    groups: dict[tuple, list[str]] = defaultdict(list)
    for r in rows:
        if r["id"] not in drops and r["phash"] is not None:
            groups[(r["phash"], r["alt"])].append(r["id"])
    for ids in groups.values():
        for pair_id in sorted(ids)[1:]:
            drops[pair_id] = "duplicate_pair"
    return dict(sorted(drops.items()))


class PairFrequency(CorpusRule):
    name = "pair_frequency"
    title = "🔁 frequent alt / duplicate pair"
    level = "document"

    def __init__(self, work_dir: str | os.PathLike, max_alt_occurrences: int = MAX_ALT_OCCURRENCES):
        super().__init__(work_dir)
        self.max_alt_occurrences = max_alt_occurrences

    def collect(self, doc: Document) -> Iterable[dict]:
        yield {"id": doc.id, "alt": doc.text, "phash": doc.media[0].metadata.get("phash") if doc.media else None}

    def decide(self, rows: list[dict]) -> dict[str, str]:
        return decide_frequency_drops(rows, self.max_alt_occurrences)

    def describe(self, decision: dict[str, str]) -> str:
        return ", ".join(f"{n} {reason}" for reason, n in sorted(Counter(decision.values()).items())) or "nothing dropped"

    def drop_document(self, doc: Document, decision: dict[str, str]) -> str | None:
        return decision.get(doc.id)
