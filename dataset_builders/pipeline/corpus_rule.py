"""Corpus-wide rules: collect per task → merge over all tasks → apply per document.

Some decisions need the whole corpus: which image domains are too frequent to hit, which alt texts
recur ten times, which images have ten near-duplicates, where the bottom 30% of CLIP scores starts.
A task sees only its share, so every such rule runs in three parts, and this module writes the
protocol once:

1. ``rule.collect_step()`` (inside a stage, on every task): :meth:`CorpusRule.collect` turns each
   document into rows (JSON values); the task's rows are written atomically when its stream ends,
   to ``<work>/rules/<name>/rows/<rank>-of-<tasks>.jsonl``. Documents pass through unchanged.
2. ``rule.merge(tasks)`` (in the driver, between stages): checks that every task of one run wrote
   its file, calls :meth:`CorpusRule.decide` on the union of the rows and writes
   ``<work>/rules/<name>/decision.json``.
3. ``rule.apply_step()`` (inside a later stage, on every task): drops documents
   (:meth:`CorpusRule.drop_document`, counted ``dropped_<reason>``) or images
   (:meth:`CorpusRule.drop_media`, counted ``media_dropped_<reason>``), so the drops show in the
   build's funnel and card under the rule's :attr:`~CorpusRule.title`.

``decide`` must be pure and order-independent (sort, count, use ids — never rely on which task saw
what), so 1 task and N tasks keep exactly the same documents. A new rule is one small subclass::

    class FrequentAlts(CorpusRule):
        name = "frequent_alts"            # its folder under <work>/rules/
        title = "🔁 frequent alt texts"    # its step in the funnel
        level = "document"                # drops documents ("media": drops images)

        def collect(self, doc):
            yield doc.text

        def decide(self, rows):
            return sorted(alt for alt, n in Counter(rows).items() if n >= 10)

        def decision_from_json(self, data):
            return set(data)

        def drop_document(self, doc, decision):
            return "frequent_alt" if doc.text in decision else None
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from datatrove.data import Document, DocumentsPipeline, Media
from datatrove.pipeline.base import PipelineStep

from dataset_builders.atomic import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

RULES_DIR = "rules"
ROWS_DIR = "rows"
DECISION_FILE = "decision.json"
LEVELS = ("document", "media")


class CorpusRule(ABC):
    """One corpus-wide rule, bound to a build's work folder (see the module docstring).

    Subclasses set :attr:`name`, :attr:`title`, :attr:`level` and implement :meth:`collect`,
    :meth:`decide` and :meth:`drop_document` or :meth:`drop_media`. Instances are pickled into
    the stages' steps, so keep them to plain parameters.
    """

    #: folder under ``<work>/rules/`` (a plain identifier)
    name: ClassVar[str]
    #: the apply step's name, i.e. its row in the funnel
    title: str = ""
    #: ``"document"``: :meth:`drop_document` drops whole documents; ``"media"``: :meth:`drop_media` drops images
    level: ClassVar[str] = "document"

    def __init__(self, work_dir: str | os.PathLike):
        if self.level not in LEVELS:
            raise ValueError(f"{type(self).__name__}.level must be one of {LEVELS}, got {self.level!r}")
        self.work_dir = str(work_dir)

    # -- the rule ----------------------------------------------------------------------------------

    @abstractmethod
    def collect(self, doc: Document) -> Iterable[Any]:
        """Rows (JSON values) this document contributes."""

    def combine(self, rows: list[Any]) -> list[Any]:
        """Shrink a task's rows before they are written (e.g. sum counts); the default keeps them.

        Must satisfy ``decide(combine(a) + combine(b)) == decide(a + b)``; it may be called several
        times on a task's growing list."""
        return rows

    @abstractmethod
    def decide(self, rows: list[Any]) -> Any:
        """The decision from every task's rows: pure, and the same for any order or split of ``rows``."""

    def decision_to_json(self, decision: Any) -> Any:
        """How :meth:`decide`'s result is stored in ``decision.json`` (default: as is)."""
        return decision

    def decision_from_json(self, data: Any) -> Any:
        """The decision back from ``decision.json`` (e.g. a list into a set); the inverse of :meth:`decision_to_json`."""
        return data

    def describe(self, decision: Any) -> str:
        """One line for the build log after the merge."""
        return f"{len(decision)} entries" if hasattr(decision, "__len__") else str(decision)

    def drop_document(self, doc: Document, decision: Any) -> str | None:
        """``level = "document"``: the reason to drop ``doc``, or ``None`` to keep it (it may be annotated)."""
        return None

    def drop_media(self, doc: Document, media: Media, decision: Any) -> str | None:
        """``level = "media"``: the reason to drop this media of ``doc``, or ``None`` to keep it."""
        return None

    # -- its files ---------------------------------------------------------------------------------

    @property
    def folder(self) -> Path:
        return Path(self.work_dir) / RULES_DIR / self.name

    def rows_path(self, rank: int, world_size: int) -> Path:
        return self.folder / ROWS_DIR / f"{rank:05d}-of-{world_size:05d}.jsonl"

    def write_rows(self, rows: list[Any], rank: int, world_size: int) -> Path:
        path = self.rows_path(rank, world_size)
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return path

    def read_rows(self, tasks: int | None = None) -> tuple[list[Any], int]:
        """Every task's rows and the run's task count; refuses a missing, incomplete or mixed set of files."""
        folder = self.folder / ROWS_DIR
        files = sorted(folder.glob("*-of-*.jsonl"))
        if not files:
            raise FileNotFoundError(f"no rows of corpus rule {self.name!r} in {folder}: its collect step "
                                    "(rule.collect_step()) must run in a stage before rule.merge()")
        sizes = sorted({int(f.stem.split("-of-")[1]) for f in files})
        if len(sizes) != 1:
            raise ValueError(f"{folder}: rows from runs with different task counts {sizes}; "
                             "use a fresh work dir (or the same --tasks as before)")
        world_size = sizes[0]
        if tasks is not None and world_size != tasks:
            raise ValueError(f"{folder}: rows were written by a run with {world_size} task(s), this run has {tasks}; "
                             "use a fresh work dir (or the same --tasks as before)")
        missing = sorted(set(range(world_size)) - {int(f.stem.split("-of-")[0]) for f in files})
        if missing:
            raise ValueError(f"{folder}: collect incomplete, no rows from ranks {missing[:10]} of {world_size}; "
                             "finish the stage that collects them")
        rows: list[Any] = []
        for f in files:
            with open(f, encoding="utf-8") as fh:
                rows.extend(json.loads(line) for line in fh if line.strip())
        return rows, world_size

    def merge(self, tasks: int | None = None) -> Any:
        """Decide from every task's rows (``tasks``: the run's task count, checked) and write ``decision.json``."""
        rows, world_size = self.read_rows(tasks)
        decision = self.decide(rows)
        atomic_write_json(self.folder / DECISION_FILE, {
            "rule": self.name, "tasks": world_size, "rows": len(rows), "decision": self.decision_to_json(decision),
        })
        logger.info("corpus rule %s: %s (from %d rows of %d task(s))", self.name, self.describe(decision),
                    len(rows), world_size)
        return decision

    def load_decision(self) -> Any:
        path = self.folder / DECISION_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run rule.merge() of corpus rule {self.name!r} "
                                    "(after the stage with its collect step) before its apply step")
        return self.decision_from_json(json.loads(path.read_text(encoding="utf-8"))["decision"])

    # -- its steps ---------------------------------------------------------------------------------

    def collect_step(self) -> PipelineStep:
        return CollectRows(self)

    def apply_step(self) -> PipelineStep:
        return ApplyRule(self)


class CollectRows(PipelineStep):
    """Record a rule's rows of every document of this task; documents pass through unchanged.

    The task's file is written atomically when its input is exhausted, so a killed task leaves no
    file and a re-run of that rank replaces it.
    """

    type = "🌐 - CORPUS"
    combine_every = 100_000

    def __init__(self, rule: CorpusRule):
        self.name = f"collect: {rule.name}"  # before super().__init__(), which labels the stats with it
        super().__init__()
        self.rule = rule

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rows: list[Any] = []
        limit = self.combine_every
        for doc in data or ():
            rows.extend(self.rule.collect(doc))
            if len(rows) >= limit:
                rows = self.rule.combine(rows)
                limit = max(limit, 2 * len(rows))
            yield doc
        rows = self.rule.combine(rows)
        self.stat_update("rows", value=len(rows))
        self.rule.write_rows(rows, rank, world_size)


class ApplyRule(PipelineStep):
    """Apply a rule's merged decision: drop documents or images with its reasons (counted for the funnel)."""

    type = "🌐 - CORPUS"

    def __init__(self, rule: CorpusRule):
        self.name = rule.title or rule.name
        super().__init__()
        self.rule = rule

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        decision = self.rule.load_decision()  # fails before the first document when the merge has not run
        for doc in data or ():
            if self.rule.level == "document":
                self.stat_update("total")
                reason = self.rule.drop_document(doc, decision)
                if reason is not None:
                    self.stat_update("dropped", f"dropped_{reason}")
                    continue
                self.stat_update("forwarded")
            else:
                kept = []
                for media in doc.media:
                    reason = self.rule.drop_media(doc, media, decision)
                    if reason is None:
                        self.stat_update("media_kept")
                        kept.append(media)
                    else:
                        self.stat_update(f"media_dropped_{reason}")
                doc.media = kept
            yield doc


__all__ = ["ApplyRule", "CollectRows", "CorpusRule"]
