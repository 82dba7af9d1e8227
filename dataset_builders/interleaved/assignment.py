"""Placing a document's images between its sentences: the MMC4 / LLM-jp-3 VILA assignment.

Given the similarity matrix ``S`` (images × sentences) of one document:

1. every image whose similarity to *every* sentence is below ``min_similarity`` (0.20) is dropped;
2. the remaining images are assigned to distinct sentences so that the total similarity is maximal
   (a linear assignment problem). When there are more images than sentences, the images the
   assignment leaves out go to their most similar sentence (MMC4's rule: images are not discarded);
3. the images are laid out in document order: sorted by (assigned sentence, original image order),
   so ``image_positions`` is non-decreasing and image slot ``k`` follows sentence ``positions[k]``.

Two solvers give the same answer:

* ``"lapjv"`` — src-d ``lapjv``, as in the paper. It needs a square matrix, so the cost matrix is
  padded as MMC4 does (``allenai/mmc4`` ``scripts/linear_assignment.py::base_solve``): cost is the
  *negated* similarity; an images × sentences matrix is padded with constant-cost rows (fewer
  images) or columns (more images) up to a square, with MMC4's constant :data:`MMC4_PAD_COST`
  (1000); pairs that land on padding are discarded, and images matched to a padding column get
  their argmax sentence (``scripts/compute_assignments.py::get_image_assignments``). Every complete
  assignment of the padded square uses exactly ``|images − sentences|`` padding cells, so the pad
  constant shifts all totals equally and never changes which real pairs are optimal.
  We call ``lapjv(..., force_doubles=True)``: lapjv 1.3 computes in float32 by default and then
  misses the optimum when totals differ by less than ~1e-7 relative (checked: a 2×2 matrix around
  1e8 comes back with the worse of two assignments).
* ``"scipy"`` — ``scipy.optimize.linear_sum_assignment`` on the rectangle directly (no padding).

Deterministic ties — both solvers return the *same* assignment, not just the same total:

* both minimise the same integer cost matrix ``cost[i, j] = -round(S[i, j]·10⁶)·T + j·(n − i)``,
  exact in float64 (``T`` exceeds any assignment's total tie term). The first term maximises total
  similarity on a 10⁻⁶ grid (finer than CLIP's own noise; the result is optimal to within
  ``min(n, m)·10⁻⁶`` of the raw floats). The second only decides between assignments whose
  quantised totals are exactly equal: earlier sentences first, earlier images weighted more, so
  duplicate sentences take images on their first copy and identical images keep their order;
* a residual tie is detected with one more solve (the chosen pairs made slightly dearer: if the
  solver then prefers another assignment, that one tied) and resolved by taking, among the optimal
  assignments, the lexicographically smallest list of sentences (image 0's as early as possible,
  then image 1's, …) — unique by definition, found with the same solver. This path only runs on
  exact ties, which continuous CLIP similarities practically never produce.

The tests check the two solvers against each other on 1,000 random rectangular matrices (and on
coarse-valued ones full of ties) and against brute force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from lapjv import lapjv
from scipy.optimize import linear_sum_assignment

Solver = Literal["lapjv", "scipy"]
SOLVERS: tuple[Solver, ...] = ("lapjv", "scipy")
#: Chosen by ``bench/assignment.py`` (scipy's rectangular solver is faster on document-sized matrices).
DEFAULT_SOLVER: Solver = "scipy"
#: Paper: an image whose similarity to every sentence is below 0.20 is removed.
MIN_SIMILARITY = 0.20
#: MMC4's padding cost for the square lapjv matrix (any constant gives the same optimum).
MMC4_PAD_COST = 1000.0
#: Similarities are compared on this grid (10⁻⁶) so that sums are exact and ties are exact.
QUANTUM_SCALE = 1_000_000
_EXACT_LIMIT = 2.0**51  # keep every sum well inside float64's exact-integer range (2**53)


@dataclass(frozen=True)
class Layout:
    """A document's images in document order.

    Attributes:
        order: original image indices, in the order the images appear in the document.
        positions: ``positions[k]`` is the sentence that image slot ``k`` follows (non-decreasing).
        similarities: similarity of image slot ``k`` to its sentence.
    """

    order: tuple[int, ...]
    positions: tuple[int, ...]
    similarities: tuple[float, ...]


@dataclass(frozen=True)
class Assignment:
    """The outcome for one document, images indexed as in the input matrix.

    Attributes:
        kept: images that passed the similarity threshold, in original order.
        dropped: images below the threshold to every sentence (original indices).
        sentence_of: ``sentence_of[i]`` is the sentence of ``kept[i]``.
        similarity_of: ``similarity_of[i]`` is ``S[kept[i], sentence_of[i]]``.
        by_argmax: kept images that got their argmax sentence because there were more images than
            sentences (MMC4's rule); the others were placed by the assignment solver.
        layout: the kept images in document order.
    """

    kept: tuple[int, ...]
    dropped: tuple[int, ...]
    sentence_of: tuple[int, ...]
    similarity_of: tuple[float, ...]
    by_argmax: tuple[int, ...]
    layout: Layout

    @property
    def total_similarity(self) -> float:
        """Sum of the assigned similarities (what the assignment maximises)."""
        return float(sum(self.similarity_of))


def as_similarity_matrix(similarities: Sequence[Sequence[float]] | np.ndarray, n_sentences: int | None = None) -> np.ndarray:
    """``similarities`` as a finite float64 (images × sentences) array, or a ValueError that says what is wrong."""
    sims = np.asarray(similarities, dtype=np.float64)
    if sims.size == 0 and sims.ndim < 2:
        sims = sims.reshape(0, n_sentences or 0)
    if sims.ndim != 2:
        raise ValueError(
            f"similarities must be a 2-D images × sentences matrix (list of lists), got shape {sims.shape}"
        )
    if n_sentences is not None and sims.shape[1] != n_sentences:
        raise ValueError(
            f"similarities has {sims.shape[1]} columns but the document has {n_sentences} sentences; "
            "recompute the similarities after sentence splitting"
        )
    if not np.isfinite(sims).all():
        raise ValueError("similarities contain NaN or infinity; fix the scorer output for this document")
    return sims


def related_images(similarities: np.ndarray, min_similarity: float = MIN_SIMILARITY) -> np.ndarray:
    """Boolean mask of the images whose best sentence reaches ``min_similarity`` (ties at the threshold are kept)."""
    sims = np.asarray(similarities, dtype=np.float64)
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0], dtype=bool)
    return sims.max(axis=1) >= min_similarity


def tie_broken_costs(similarities: np.ndarray) -> np.ndarray:
    """The integer-valued cost matrix both solvers minimise (see the module docstring)."""
    n, m = similarities.shape
    tie = np.arange(m, dtype=np.float64)[None, :] * np.arange(n, 0, -1, dtype=np.float64)[:, None]
    tie_range = (m - 1) * n * (n + 1) // 2 + 1  # > the tie term of any assignment
    pairs = min(n, m)
    max_abs = float(np.abs(similarities).max()) if similarities.size else 0.0
    scale = QUANTUM_SCALE
    # Huge matrices or similarities on a large scale: use a coarser grid (decided from the input only).
    # the uniqueness check multiplies costs by pairs + 1; keep that inside float64's exact integers too
    factor = pairs * (pairs + 1) * tie_range
    while scale > 1 and factor * (max_abs * scale + 1) > _EXACT_LIMIT:
        scale //= 10
    if factor * (max_abs * scale + 1) > _EXACT_LIMIT:
        raise ValueError(
            f"similarity matrix {similarities.shape} with values up to {max_abs:g} is too large to assign "
            "exactly; pass cosine similarities (|s| <= 1) for documents of realistic size"
        )
    return -np.rint(similarities * scale) * tie_range + tie


def _solve_lapjv(costs: np.ndarray) -> np.ndarray:
    """Sentence per image (-1 = matched to padding) with MMC4's square padding."""
    n, m = costs.shape
    size = max(n, m)
    square = np.full((size, size), MMC4_PAD_COST, dtype=np.float64)
    square[:n, :m] = costs
    row_to_col, _, _ = lapjv(square, force_doubles=True)
    cols = np.asarray(row_to_col[:n], dtype=np.int64)
    cols[cols >= m] = -1  # padding columns: more images than sentences
    return cols


def _solve_scipy(costs: np.ndarray) -> np.ndarray:
    """Sentence per image (-1 = left out) with the rectangular solver."""
    rows, cols = linear_sum_assignment(costs)
    out = np.full(costs.shape[0], -1, dtype=np.int64)
    out[rows] = cols
    return out


_SOLVE = {"lapjv": _solve_lapjv, "scipy": _solve_scipy}


def _value(costs: np.ndarray, cols: np.ndarray) -> float:
    rows = np.flatnonzero(cols >= 0)
    return float(costs[rows, cols[rows]].sum())


def _is_unique(costs: np.ndarray, cols: np.ndarray, raw_solve) -> bool:
    """Whether ``cols`` is the only optimum: with every chosen pair made 1/(k+1) dearer (costs are
    integers), the same assignment still wins only if no other assignment ties with it."""
    k = min(costs.shape)
    marked = costs * (k + 1)
    rows = np.flatnonzero(cols >= 0)
    marked[rows, cols[rows]] += 1
    return _value(marked, raw_solve(marked)) == _value(costs, cols) * (k + 1) + k


def _lexicographic_optimum(costs: np.ndarray, best: float, raw_solve) -> np.ndarray:
    """Among the optimal assignments, the one with the smallest (sentence of image 0, of image 1, …),
    "left out" counting as after every sentence. Only runs on residual ties (rare): one solve per
    candidate tried."""
    n, m = costs.shape
    rows, columns = list(range(n)), list(range(m))
    out = np.full(n, -1, dtype=np.int64)
    fixed = 0.0
    for i in range(n):
        rest_rows = rows[1:]
        options = [*columns, -1] if len(rest_rows) >= len(columns) else columns
        for j in options:
            rest_cols = [c for c in columns if c != j]
            rest = 0.0
            if rest_rows and rest_cols:
                sub = costs[np.ix_(rest_rows, rest_cols)]
                rest = _value(sub, raw_solve(sub))
            here = float(costs[i, j]) if j >= 0 else 0.0
            if fixed + here + rest == best:
                out[i], fixed, columns = j, fixed + here, rest_cols
                break
        else:  # pragma: no cover - the solver's own optimum always passes
            raise RuntimeError("assignment tie-breaking found no optimal completion; solver returned a non-optimum")
        rows = rest_rows
    return out


def _solve(sims: np.ndarray, solver: Solver) -> tuple[np.ndarray, np.ndarray]:
    """(sentence per image, whether the solver placed it) — images it left out get their argmax."""
    if solver not in _SOLVE:
        raise ValueError(f"unknown assignment solver {solver!r}; choose one of {SOLVERS}")
    n, m = sims.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    if m == 0:
        raise ValueError("cannot assign images to a document without sentences")
    costs = tie_broken_costs(sims)
    raw_solve = _SOLVE[solver]
    cols = raw_solve(costs)
    if n > 1 and not _is_unique(costs, cols, raw_solve):
        cols = _lexicographic_optimum(costs, _value(costs, cols), raw_solve)
    matched = cols >= 0
    if not matched.all():
        cols[~matched] = sims[~matched].argmax(axis=1)
    return cols, matched


def solve_assignment(similarities: np.ndarray, solver: Solver = DEFAULT_SOLVER) -> np.ndarray:
    """Sentence index per image maximising total similarity, each sentence used at most once;
    images beyond the number of sentences get their argmax sentence (first one on ties).

    Pure: ``similarities`` is images × sentences with at least one sentence.
    """
    return _solve(np.asarray(similarities, dtype=np.float64), solver)[0]


def document_layout(image_ids: Sequence[int], sentence_of: Sequence[int], similarity_of: Sequence[float]) -> Layout:
    """Images sorted by (assigned sentence, original order): each image follows its sentence and
    ``positions`` is non-decreasing, as the INTERLEAVED schema requires."""
    order = sorted(range(len(image_ids)), key=lambda k: (sentence_of[k], image_ids[k]))
    return Layout(
        order=tuple(int(image_ids[k]) for k in order),
        positions=tuple(int(sentence_of[k]) for k in order),
        similarities=tuple(float(similarity_of[k]) for k in order),
    )


def assign_images(
    similarities: Sequence[Sequence[float]] | np.ndarray,
    min_similarity: float = MIN_SIMILARITY,
    solver: Solver = DEFAULT_SOLVER,
    candidates: Sequence[int] | None = None,
) -> Assignment:
    """Drop unrelated images, assign the rest to sentences, and lay them out in document order.

    Args:
        similarities: images × sentences (list of lists or array), e.g. CLIP cosine similarities.
        min_similarity: an image is dropped when every sentence is below this (0.20 in the paper).
        solver: ``"lapjv"`` (padded square, as the paper) or ``"scipy"`` (rectangular); same result.
        candidates: restrict to these images (original indices); the others count as neither kept
            nor dropped here (used to keep only the top images of an over-full document).
    """
    sims = as_similarity_matrix(similarities)
    pool = list(range(sims.shape[0])) if candidates is None else sorted(int(i) for i in candidates)
    mask = related_images(sims[pool], min_similarity) if pool else np.zeros(0, dtype=bool)
    kept = [i for i, ok in zip(pool, mask, strict=True) if ok]
    dropped = [i for i, ok in zip(pool, mask, strict=True) if not ok]
    sub = sims[kept]
    cols, matched = _solve(sub, solver)
    by_argmax = [kept[k] for k in range(len(kept)) if not matched[k]]
    sim_of = [float(sub[k, c]) for k, c in enumerate(cols)]
    return Assignment(
        kept=tuple(kept),
        dropped=tuple(dropped),
        sentence_of=tuple(int(c) for c in cols),
        similarity_of=tuple(sim_of),
        by_argmax=tuple(by_argmax),
        layout=document_layout(kept, cols.tolist(), sim_of),
    )


def top_images(similarities: np.ndarray, k: int) -> list[int]:
    """The ``k`` images with the highest best-sentence similarity (earlier image first on ties), in original order."""
    sims = np.asarray(similarities, dtype=np.float64)
    if sims.shape[0] <= k:
        return list(range(sims.shape[0]))
    best = sims.max(axis=1) if sims.shape[1] else np.zeros(sims.shape[0])
    ranked = sorted(range(sims.shape[0]), key=lambda i: (-best[i], i))
    return sorted(ranked[:k])
