"""The pair-score rule: median-weighted combination of two CLIP scores, then drop the bottom 30%.

The paper (§3, image–text pairs) says only: 類似度は 2 つの CLIP のスコアをそれぞれの中央値で重みづけしたもの
— "the similarity is the two CLIPs' scores, each weighted by its median" — and removes the pairs in
the bottom 30%. We read "weighted by its median" as *normalised by* it:

    combined_i = (1 / M) * Σ_m  s_{i,m} / |median_m|          (M = number of scorers, here 2)

where ``s_{i,m}`` is scorer *m*'s cosine similarity for pair *i* and ``median_m`` its median over the
whole corpus. Why this reading: the two models live on different similarity scales (a LAION ViT-H
cosine for a good pair is around 0.3, other CLIPs sit higher or lower), so a plain mean would let
the model with the larger spread decide alone. Dividing by the corpus median puts a typical pair at
1.0 under each model, so each model's opinion counts equally and "twice as similar as typical"
means the same for both; the mean (rather than a sum) keeps the typical combined score at 1.0.
Multiplying by the median instead would amplify the scale mismatch, the opposite of the intent.
The absolute value changes nothing for trained CLIPs (their median pair cosine is positive); it only
keeps the ordering sane for untrained test models, whose median can be negative (a warning is
logged then). A zero median is refused.

The cut: with ``N`` scored pairs sorted ascending by ``combined`` and ``k = floor(0.3 · N)``, the
threshold ``t`` is the (k+1)-th smallest value; a pair is kept iff ``combined >= t``. So at most
``k`` pairs are dropped — exactly ``k`` unless values tie across the boundary, in which case every
pair equal to ``t`` is kept (ties are never split arbitrarily, so the kept set depends only on the
multiset of scores). Medians and ``t`` are computed from the union of all tasks' scores, in float64,
with the same vectorised function the filter uses, so 1 task and N tasks keep exactly the same pairs.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from dataset_builders.errors import UserInputError

logger = logging.getLogger(__name__)

DEFAULT_DROP_FRACTION = 0.3


def combined_scores(scores: np.ndarray, medians: Sequence[float] | np.ndarray) -> np.ndarray:
    """``[N]`` combined scores of ``scores`` ``[N, M]`` (float64): the mean over m of ``s_m / |median_m|``."""
    scores = np.asarray(scores, dtype=np.float64)
    med = np.abs(np.asarray(medians, dtype=np.float64))
    if scores.ndim != 2 or scores.shape[1] != med.shape[0]:
        raise ValueError(f"scores {scores.shape} do not match {med.shape[0]} medians")
    return (scores / med).sum(axis=1) / scores.shape[1]


def corpus_medians(scores: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Per-scorer median over the corpus (order-independent); refuses a zero median."""
    med = np.median(np.asarray(scores, dtype=np.float64), axis=0)
    for name, m in zip(names, med, strict=True):
        if m == 0 or not math.isfinite(m):
            raise ValueError(f"scorer {name!r} has median score {m}: cannot weight by it (is the model trained?)")
        if m < 0:
            logger.warning("scorer %r has a negative median score %.4f (untrained model?); weighting by |median|", name, m)
    return med


def drop_count(n: int, drop_fraction: float) -> int:
    """``floor(drop_fraction * n)`` computed exactly (0.3 * 10 is 3, not 2.9999…)."""
    return int(Fraction(str(drop_fraction)) * n)


@dataclass(frozen=True)
class PairCutDecision:
    """What pass 2 needs: scorer names, their corpus medians, and the combined-score threshold."""

    names: tuple[str, ...]
    medians: tuple[float, ...]
    threshold: float | None  # None: nothing scored, keep everything
    drop_fraction: float
    n_scored: int
    n_dropped: int  # how many of the n_scored fall below the threshold

    def combined(self, scores: Mapping[str, float]) -> float:
        """The combined score of one pair (raises KeyError when a scorer's score is missing)."""
        row = np.array([[float(scores[n]) for n in self.names]], dtype=np.float64)
        return float(combined_scores(row, self.medians)[0])

    def keep(self, combined: float) -> bool:
        return self.threshold is None or combined >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["names"], d["medians"] = list(self.names), list(self.medians)
        d["rule"] = "combined = mean_m(score_m / |median_m|); keep combined >= threshold"
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PairCutDecision:
        return cls(
            names=tuple(d["names"]), medians=tuple(float(m) for m in d["medians"]),
            threshold=None if d["threshold"] is None else float(d["threshold"]),
            drop_fraction=float(d["drop_fraction"]), n_scored=int(d["n_scored"]), n_dropped=int(d["n_dropped"]),
        )


def decide_pair_cut(
    scores: np.ndarray, names: Sequence[str], drop_fraction: float = DEFAULT_DROP_FRACTION
) -> PairCutDecision:
    """Medians and threshold from the corpus-wide ``[N, M]`` score matrix (row order irrelevant)."""
    if not 0 <= drop_fraction < 1:
        raise UserInputError(f"drop_fraction must be in [0, 1), got {drop_fraction}")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:  # no pair survived to scoring (numpy cannot reshape size 0 to (-1, 0))
        return PairCutDecision(tuple(names), tuple(0.0 for _ in names), None, drop_fraction, 0, 0)
    scores = scores.reshape(-1, len(names))
    if not np.isfinite(scores).all():
        raise ValueError("pair scores contain NaN or infinity; the scoring step should have dropped those pairs")
    n = scores.shape[0]
    med = corpus_medians(scores, names)
    combined = combined_scores(scores, med)
    k = drop_count(n, drop_fraction)
    threshold = float(np.sort(combined, kind="stable")[k])
    n_dropped = int((combined < threshold).sum())
    return PairCutDecision(tuple(names), tuple(float(m) for m in med), threshold, drop_fraction, n, n_dropped)
