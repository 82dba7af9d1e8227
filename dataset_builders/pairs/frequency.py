"""Corpus-wide frequency rules for pairs (paper §3): drop alt texts that occur 10 or more times, then
keep one pair per (image pHash, alt text).

Both rules need the whole corpus, so they run in two passes: :class:`CollectPairKeys` writes each
task's (pair id, alt text, pHash) to ``<work>/pair_keys/<rank>.jsonl``; :func:`decide_frequency_drops`
reads every task's file and decides from the union — the most frequent alts are counted over all
occurrences, and among duplicates of a (pHash, alt) the pair with the smallest id is kept — so the
result does not depend on how many tasks ran or in which order; :class:`DropByDecision` applies it.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.atomic import atomic_open, atomic_write_json

KEYS_DIR = "pair_keys"


class CollectPairKeys(PipelineStep):
    """Pass 1: remember (id, alt, pHash) of every pair of this task; documents pass through."""

    type = "📊 - STATS"
    name = "collect pair keys"

    def __init__(self, work_dir: str | os.PathLike):
        super().__init__()
        self.work_dir = str(work_dir)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rows = []
        for doc in data or []:
            rows.append({"id": doc.id, "alt": doc.text, "phash": doc.media[0].metadata.get("phash") if doc.media else None})
            yield doc
        with atomic_open(Path(self.work_dir) / KEYS_DIR / f"{rank:05d}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")


def decide_frequency_drops(rows: list[dict], max_alt_occurrences: int = 10) -> dict[str, str]:
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
    return drops


def merge_pair_keys(work_dir: str | os.PathLike, max_alt_occurrences: int = 10) -> Path:
    """Read every task's keys, decide, and write ``<work>/frequency_drops.json``; returns its path."""
    rows = []
    for path in sorted((Path(work_dir) / KEYS_DIR).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            rows.extend(json.loads(line) for line in f if line.strip())
    out = Path(work_dir) / "frequency_drops.json"
    atomic_write_json(out, decide_frequency_drops(rows, max_alt_occurrences))
    return out


class DropByDecision(BaseFilter):
    """Pass 2: drop the documents a corpus-wide decision file names, with the reason it gives."""

    name = "corpus-wide decisions"

    def __init__(self, decisions_path: str | os.PathLike, name: str | None = None):
        if name:
            self.name = name  # before super().__init__(), which labels the step's stats with it
        super().__init__()
        self.decisions_path = str(decisions_path)
        self._drops: dict[str, str] | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._drops is None:
            self._drops = json.loads(Path(self.decisions_path).read_text(encoding="utf-8"))
        reason = self._drops.get(doc.id)
        return True if reason is None else (False, reason)
