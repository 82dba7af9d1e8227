"""The pairs builder's CLIP cut: :class:`PairScorer` scores each pair, the :class:`PairCut` corpus rule
collects the scores, decides the medians and threshold from all tasks, and drops the bottom 30%.

    cut = PairCut(work, drop_fraction)
    run_stage("score", [..., PairScorer(scorers), cut.collect_step(), SaveDocuments(...)], ...)
    cut.merge(tasks)
    run_stage("write", [LoadDocuments(...), cut.apply_step(), WriteShards(...)], ...)

The rule itself (formula, ties) is in :mod:`dataset_builders.scoring.combine`. Scores travel in
``doc.metadata["clip_scores"] = {scorer name: cosine}``; the cut adds ``doc.metadata["clip_score"]``
(the combined score). Rows are ``{id, scores}`` in JSON, whose floats round-trip exactly, so the
decision from 1 task and from N tasks is the same to the last bit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.images import ImageError
from dataset_builders.pipeline.corpus_rule import CorpusRule
from dataset_builders.scoring.combine import DEFAULT_DROP_FRACTION, PairCutDecision, decide_pair_cut
from dataset_builders.scoring.loading import batched, prefetch_map
from dataset_builders.scoring.preprocess import decode_rgb
from dataset_builders.scoring.registry import build_scorer
from dataset_builders.scoring.scorer import BaseScorer, Scorer, cosine_pairs

logger = logging.getLogger(__name__)

SCORES_KEY = "clip_scores"
COMBINED_KEY = "clip_score"

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


class PairCut(CorpusRule):
    """Keep a pair iff its combined score reaches the corpus threshold (``low_clip_score``).

    Pairs without a complete score set are dropped as ``no_clip_score``. The combined score is
    stored in ``doc.metadata["clip_score"]``.
    """

    name = "pair_cut"
    level = "document"

    def __init__(self, work_dir: str | Path, drop_fraction: float = DEFAULT_DROP_FRACTION, key: str = SCORES_KEY):
        super().__init__(work_dir)
        if not 0 <= drop_fraction < 1:
            raise ValueError(f"drop_fraction must be in [0, 1), got {drop_fraction}")
        self.drop_fraction = drop_fraction
        self.key = key

    @property
    def title(self) -> str:
        return f"✂️ CLIP bottom-{self.drop_fraction:.0%} cut"

    def collect(self, doc: Document) -> Iterable[dict]:
        scores = doc.metadata.get(self.key)
        if isinstance(scores, Mapping) and scores:
            yield {"id": str(doc.id), "scores": {n: float(v) for n, v in scores.items()}}

    def decide(self, rows: list[dict]) -> PairCutDecision:
        names = sorted(rows[0]["scores"]) if rows else []
        for r in rows:
            if sorted(r["scores"]) != names:
                raise ValueError(f"pair {r['id']} has scores {sorted(r['scores'])}, others {names}: "
                                 "mixed runs in one work dir")
        scores = np.array([[r["scores"][n] for n in names] for r in rows], dtype=np.float64)
        return decide_pair_cut(scores.reshape(len(rows), len(names)), names, self.drop_fraction)

    def decision_to_json(self, decision: PairCutDecision) -> dict:
        return decision.to_dict()

    def decision_from_json(self, data: dict) -> PairCutDecision:
        return PairCutDecision.from_dict(data)

    def describe(self, d: PairCutDecision) -> str:
        return (f"{d.n_scored} pairs, medians {dict(zip(d.names, d.medians, strict=True))}, "
                f"threshold {d.threshold}, {d.n_dropped} below it")

    def drop_document(self, doc: Document, decision: PairCutDecision) -> str | None:
        scores = doc.metadata.get(self.key)
        if not isinstance(scores, Mapping) or not scores:
            return "no_clip_score"
        if decision.threshold is None:  # an empty corpus at merge time: nothing to compare against
            return None
        try:
            combined = decision.combined(scores)
        except (KeyError, TypeError, ValueError):
            return "no_clip_score"
        if not np.isfinite(combined):
            return "no_clip_score"
        doc.metadata[COMBINED_KEY] = combined
        return None if decision.keep(combined) else "low_clip_score"
