"""Datatrove steps for the pairs builder's CLIP cut: score → write per-task scores → merge → cut.

Pass 1 (N tasks):   ``PairScorer(scorers)`` → ``PairScoreWriter(work_dir)`` → (a writer keeps the docs)
Merge  (1 task):    ``PairScoreMerge(work_dir)`` — medians + threshold from the union of all tasks
Pass 2 (N tasks):   reader of the pass-1 docs → ``PairScoreCut(work_dir)``

The rule itself (formula, ties) is in :mod:`dataset_builders.scoring.combine`. Scores travel in
``doc.metadata["clip_scores"] = {scorer name: cosine}``; the cut adds ``doc.metadata["clip_score"]``
(the combined score). Per-task files are ``work_dir/scores/{rank:05d}.npz`` (ids, names, float64
scores, rank, world_size), written atomically when the task's stream ends; the merge refuses an
incomplete or mixed set of task files, so a stale file from an earlier run cannot leak in.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.atomic import atomic_open, atomic_write_json
from dataset_builders.images import ImageError
from dataset_builders.scoring.combine import DEFAULT_DROP_FRACTION, PairCutDecision, decide_pair_cut
from dataset_builders.scoring.loading import batched, prefetch_map
from dataset_builders.scoring.preprocess import decode_rgb
from dataset_builders.scoring.registry import build_scorer
from dataset_builders.scoring.scorer import BaseScorer, Scorer, cosine_pairs

logger = logging.getLogger(__name__)

SCORES_KEY = "clip_scores"
COMBINED_KEY = "clip_score"
DECISION_FILE = "pair_cut.json"
SCORES_DIR = "scores"

TextSource = str | Callable[[Document], str | None]


def first_image(doc: Document) -> Media | None:
    """The first image media of ``doc`` that carries bytes."""
    for m in doc.media:
        if m.type == MediaType.IMAGE and m.media_bytes:
            return m
    return None


def caption_of(doc: Document, source: TextSource = "auto") -> str | None:
    """The text scored against the image. ``source``: ``"alt"`` (the image's alt text), ``"text"``
    (``doc.text``), ``"auto"`` (alt, else text), ``"metadata.<key>"``, or a callable."""
    if callable(source):
        return source(doc)
    media = first_image(doc) or (doc.media[0] if doc.media else None)
    alt = media.alt if media is not None else None
    if source == "alt":
        text = alt
    elif source == "text":
        text = doc.text
    elif source == "auto":
        text = alt if alt and alt.strip() else doc.text
    elif source.startswith("metadata."):
        text = doc.metadata.get(source[len("metadata."):])
    else:
        raise ValueError(f"text source must be alt, text, auto, metadata.<key> or a callable; got {source!r}")
    return text if isinstance(text, str) and text.strip() else None


def _draft_union(scorers: Sequence[BaseScorer]) -> tuple[int, int] | None:
    sizes = [s.draft_size for s in scorers]
    if any(s is None for s in sizes):
        return None
    return (max(s[0] for s in sizes), max(s[1] for s in sizes))


class _NoImage(ImageError):
    def __init__(self) -> None:
        super().__init__("no_image", "document has no image bytes")


class PairScorer(PipelineStep):
    """Score each (image, caption) pair with every scorer; drop pairs that cannot be scored.

    ``scorers``: ``{name: Scorer or config dict}`` (configs are built lazily inside the task, so the
    step pickles cheaply for datatrove executors). The image is decoded once, in worker threads
    overlapping the forward passes, and transformed for each scorer. Drops are counted as
    ``dropped_<reason>``: ``no_image``, ``no_text``, ``not_an_image``, ``undecodable``, ….
    """

    name = "🖼️ CLIP pair scores"
    type = "🔢 - SCORER"

    def __init__(
        self,
        scorers: Mapping[str, Scorer | Mapping[str, Any]],
        text_source: TextSource = "auto",
        batch_size: int = 64,
        num_workers: int | None = None,
        key: str = SCORES_KEY,
    ):
        super().__init__()
        if not scorers:
            raise ValueError("PairScorer needs at least one scorer")
        self.scorer_configs = dict(scorers)
        self.text_source = text_source
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.key = key
        self._scorers: dict[str, BaseScorer] | None = None

    def __getstate__(self) -> dict:  # built models stay in the task that built them
        state = self.__dict__.copy()
        state["_scorers"] = None
        return state

    def scorers(self) -> dict[str, BaseScorer]:
        if self._scorers is None:
            self._scorers = {n: build_scorer(c) for n, c in self.scorer_configs.items()}
        return self._scorers

    def _drop(self, doc: Document, reason: str, detail: str = "") -> None:
        self.stat_update("dropped")
        self.stat_update(f"dropped_{reason}")
        if detail:
            logger.warning("pair %s dropped (%s): %s", doc.id, reason, detail)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        scorers = self.scorers()
        draft = _draft_union(list(scorers.values()))
        workers = max(s.num_workers for s in scorers.values()) if self.num_workers is None else self.num_workers

        def load(doc: Document) -> list:
            media = first_image(doc)
            if media is None:
                raise _NoImage()
            img = decode_rgb(media.media_bytes, draft)
            return [s.transform(img) for s in scorers.values()]

        stream = prefetch_map(load, data, workers, lookahead=2 * self.batch_size)
        for batch in batched(stream, self.batch_size):
            good: list[tuple[Document, list, str]] = []
            for doc, loaded in batch:
                self.stat_update("total")
                if isinstance(loaded, Exception):
                    reason = getattr(loaded, "reason", "load_error")
                    self._drop(doc, reason, "" if reason == "no_image" else str(loaded))
                    continue
                text = caption_of(doc, self.text_source)
                if text is None:
                    self._drop(doc, "no_text")
                    continue
                good.append((doc, loaded, text))
            if not good:
                continue
            with self.track_time("batch"):
                texts = [t for _, _, t in good]
                sims = {}
                for j, (name, s) in enumerate(scorers.items()):
                    img = s.encode_loaded([loaded[j] for _, loaded, _ in good])
                    sims[name] = cosine_pairs(img, s.embed_texts(texts)).tolist()
            for i, (doc, _, _) in enumerate(good):
                scores = {name: float(v[i]) for name, v in sims.items()}
                if not all(np.isfinite(list(scores.values()))):
                    self._drop(doc, "nonfinite_score", str(scores))
                    continue
                doc.metadata[self.key] = scores
                self.stat_update("forwarded")
                yield doc


def task_scores_path(work_dir: str | Path, rank: int) -> Path:
    return Path(work_dir) / SCORES_DIR / f"{rank:05d}.npz"


class PairScoreWriter(PipelineStep):
    """Pass the documents through; when the task's stream ends, write its scores atomically.

    The file holds ``ids``, ``names`` (sorted scorer names), ``scores`` ``[n, M]`` float64 and the
    task's ``rank`` / ``world_size``. Documents without a complete score set are not recorded (the
    cut drops them as ``no_clip_score``).
    """

    name = "💾 pair scores (pass 1)"
    type = "🔢 - SCORER"

    def __init__(self, work_dir: str | Path, key: str = SCORES_KEY):
        super().__init__()
        self.work_dir = str(work_dir)
        self.key = key

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        ids: list[str] = []
        rows: list[list[float]] = []
        names: list[str] | None = None
        for doc in data or ():
            scores = doc.metadata.get(self.key)
            if isinstance(scores, Mapping) and scores:
                if names is None:
                    names = sorted(scores)
                if set(scores) == set(names):
                    ids.append(str(doc.id))
                    rows.append([float(scores[n]) for n in names])
                    self.stat_update("scores_written")
                else:
                    self.stat_update("score_names_mismatch")
            yield doc
        write_task_scores(self.work_dir, rank, world_size, ids, names or [], rows)


def write_task_scores(
    work_dir: str | Path, rank: int, world_size: int, ids: Sequence[str], names: Sequence[str], rows: Sequence[Sequence[float]]
) -> Path:
    path = task_scores_path(work_dir, rank)
    buf = io.BytesIO()
    np.savez(
        buf,
        ids=np.array(list(ids), dtype=str),
        names=np.array(list(names), dtype=str),
        scores=np.array(rows, dtype=np.float64).reshape(len(rows), len(names)),
        rank=np.int64(rank),
        world_size=np.int64(world_size),
    )
    with atomic_open(path, "wb") as f:
        f.write(buf.getvalue())
    return path


def read_scores(work_dir: str | Path) -> tuple[list[str], np.ndarray]:
    """Names and the ``[N, M]`` union of every task's scores; checks the task set is complete."""
    files = sorted((Path(work_dir) / SCORES_DIR).glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no pair score files under {Path(work_dir) / SCORES_DIR}: run pass 1 first")
    names: list[str] | None = None
    world_sizes, ranks, parts = set(), set(), []
    for f in files:
        with np.load(f) as z:
            file_names = [str(n) for n in z["names"]]
            scores = z["scores"]
            world_sizes.add(int(z["world_size"]))
            ranks.add(int(z["rank"]))
        if scores.shape[0] == 0:
            continue
        if names is None:
            names = file_names
        elif file_names != names:
            raise ValueError(f"{f} scores {file_names}, other tasks {names}: mixed runs in {work_dir}")
        parts.append(scores)
    if len(world_sizes) != 1 or ranks != set(range(next(iter(world_sizes)))):
        raise ValueError(
            f"pair score files in {work_dir} are incomplete or from different runs "
            f"(world sizes {sorted(world_sizes)}, ranks {sorted(ranks)}): finish pass 1 or clear the folder"
        )
    names = names or []
    return names, (np.concatenate(parts) if parts else np.empty((0, len(names))))


def merge_pair_scores(work_dir: str | Path, drop_fraction: float = DEFAULT_DROP_FRACTION) -> PairCutDecision:
    """Compute the corpus-wide decision from all task files and write ``work_dir/pair_cut.json``."""
    names, scores = read_scores(work_dir)
    decision = decide_pair_cut(scores, names, drop_fraction)
    atomic_write_json(Path(work_dir) / DECISION_FILE, decision.to_dict())
    logger.info(
        "pair cut: %d pairs, medians %s, threshold %s, %d below it",
        decision.n_scored, dict(zip(decision.names, decision.medians, strict=True)), decision.threshold, decision.n_dropped,
    )
    return decision


def load_decision(work_dir: str | Path) -> PairCutDecision:
    path = Path(work_dir) / DECISION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run PairScoreMerge (or merge_pair_scores) after pass 1")
    return PairCutDecision.from_dict(json.loads(path.read_text(encoding="utf-8")))


class PairScoreMerge(PipelineStep):
    """The merge as a pipeline step (run it with one task); documents, if any, pass through."""

    name = "🧮 pair score merge"
    type = "🔢 - SCORER"

    def __init__(self, work_dir: str | Path, drop_fraction: float = DEFAULT_DROP_FRACTION):
        super().__init__()
        self.work_dir = str(work_dir)
        self.drop_fraction = drop_fraction

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data:
            yield from data
        if rank == 0:
            d = merge_pair_scores(self.work_dir, self.drop_fraction)
            self.stat_update("pairs_scored", value=d.n_scored)
            self.stat_update("pairs_below_threshold", value=d.n_dropped)


class PairScoreCut(BaseFilter):
    """Pass 2: keep a pair iff its combined score reaches the corpus threshold (``dropped_low_clip_score``).

    Pairs without scores are dropped as ``no_clip_score``. The combined score is stored in
    ``doc.metadata["clip_score"]``.
    """

    name = "✂️ CLIP bottom-30% cut"

    def __init__(self, work_dir: str | Path, key: str = SCORES_KEY, exclusion_writer=None):
        super().__init__(exclusion_writer=exclusion_writer)
        self.work_dir = str(work_dir)
        self.key = key
        self._decision: PairCutDecision | None = None

    @property
    def decision(self) -> PairCutDecision:
        if self._decision is None:
            self._decision = load_decision(self.work_dir)
        return self._decision

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.decision  # noqa: B018 - fail before the first document when the merge has not run
        yield from super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        scores = doc.metadata.get(self.key)
        if not isinstance(scores, Mapping) or not scores:
            return False, "no_clip_score"
        if self.decision.threshold is None:  # an empty corpus at merge time: nothing to compare against
            return True
        try:
            combined = self.decision.combined(scores)
        except (KeyError, TypeError, ValueError):
            return False, "no_clip_score"
        if not np.isfinite(combined):
            return False, "no_clip_score"
        doc.metadata[COMBINED_KEY] = combined
        return True if self.decision.keep(combined) else (False, "low_clip_score")
