"""Image→sentence assignment: optimum, MMC4's rules, ties, the 0.20 drop, lapjv == scipy, layout."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from lapjv import lapjv

from dataset_builders.interleaved import assignment as A
from dataset_builders.interleaved.assignment import (
    MIN_SIMILARITY,
    SOLVERS,
    as_similarity_matrix,
    assign_images,
    document_layout,
    solve_assignment,
    tie_broken_costs,
    top_images,
)

both = pytest.mark.parametrize("solver", SOLVERS)


def brute_force(sims: np.ndarray) -> float:
    """Best total over injective image→sentence maps; with more images than sentences, over the
    choice of which images take the sentences (MMC4's objective; the others get their argmax)."""
    n, m = sims.shape
    if n <= m:
        return max(sum(sims[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return max(sum(sims[r, j] for j, r in enumerate(rows)) for rows in itertools.permutations(range(n), m))


def mmc4_reference(im2txt: np.ndarray) -> list[int]:
    """allenai/mmc4 scripts/compute_assignments.py::get_image_assignments with linear_assignment.base_solve,
    transcribed (float32 lapjv, pad 1000, argmax for images beyond the number of sentences)."""
    W = -im2txt
    n, m = W.shape
    if n != m:
        pad = [[0, 0], [0, n - m]] if n > m else [[0, m - n], [0, 0]]
        W = np.pad(W, pad, "constant", constant_values=1000)
    sol, _, _ = lapjv(W)
    pairs = {i: int(sol[i]) for i in range(len(sol)) if i < n and sol[i] < m}
    return [pairs.get(i, int(np.argmax(im2txt[i]))) for i in range(n)]


# -- known optima ---------------------------------------------------------------------------------

@both
def test_hand_made_matrix_reaches_the_optimum_greedy_misses(solver):
    # greedy (image 0 takes its best, sentence 0) gives 0.9 + 0.3 + 0.7 = 1.9;
    # the optimum moves image 0 to sentence 1: 0.8 + 0.85 + 0.7 = 2.35
    sims = np.array([[0.90, 0.80, 0.10, 0.05],
                     [0.85, 0.30, 0.20, 0.10],
                     [0.10, 0.20, 0.70, 0.60]])
    a = assign_images(sims, solver=solver)
    assert a.sentence_of == (1, 0, 2)
    assert a.total_similarity == pytest.approx(2.35)
    assert a.total_similarity == pytest.approx(brute_force(sims))
    assert a.by_argmax == () and a.dropped == ()


@both
def test_more_images_than_sentences_take_their_argmax(solver):
    # 4 images, 2 sentences: the assignment gives sentence 0 to image 1 and sentence 1 to image 2
    # (0.9 + 0.8); images 0 and 3 are left out and go to their best sentence (MMC4)
    sims = np.array([[0.50, 0.40],
                     [0.90, 0.30],
                     [0.30, 0.80],
                     [0.35, 0.60]])
    a = assign_images(sims, solver=solver)
    assert a.sentence_of == (0, 0, 1, 1)
    assert a.by_argmax == (0, 3)
    assert a.similarity_of == (0.5, 0.9, 0.8, 0.6)
    # document order: sentence 0 gets images 0 then 1, sentence 1 gets images 2 then 3
    assert a.layout.order == (0, 1, 2, 3)
    assert a.layout.positions == (0, 0, 1, 1)
    assert a.sentence_of == tuple(mmc4_reference(sims))


def test_lapjv_path_reproduces_mmc4_reference_code():
    rng = np.random.default_rng(4)
    for _ in range(300):
        n, m = int(rng.integers(1, 9)), int(rng.integers(1, 40))
        sims = rng.uniform(-0.1, 0.5, (n, m))
        assert solve_assignment(sims, "lapjv").tolist() == mmc4_reference(sims), (n, m)


@both
def test_matches_brute_force_on_small_matrices(solver):
    rng = np.random.default_rng(5)
    for _ in range(150):
        n, m = int(rng.integers(1, 5)), int(rng.integers(1, 6))
        sims = rng.uniform(0, 0.5, (n, m))
        a = assign_images(sims, min_similarity=-1, solver=solver)
        placed = [(i, j) for i, j in zip(a.kept, a.sentence_of, strict=True) if i not in a.by_argmax]
        assert len(placed) == min(n, m) and len({j for _, j in placed}) == min(n, m)  # each sentence once
        assert sum(sims[i, j] for i, j in placed) == pytest.approx(brute_force(sims), abs=min(n, m) * 1e-6)
        assert all(a.sentence_of[i] == int(np.argmax(sims[i])) for i in a.by_argmax)


# -- the 0.20 drop ------------------------------------------------------------------------------------

@both
def test_images_below_threshold_to_every_sentence_are_dropped(solver):
    sims = np.array([[0.19, 0.05, 0.10],        # dropped: best is 0.19
                     [0.10, 0.20, 0.00],        # kept: exactly 0.20
                     [0.199999, 0.1, 0.1],      # dropped
                     [0.30, 0.25, 0.90]])       # kept
    a = assign_images(sims, solver=solver)
    assert a.kept == (1, 3) and a.dropped == (0, 2)
    assert a.sentence_of == (1, 2)
    assert a.layout.order == (1, 3) and a.layout.positions == (1, 2)
    assert assign_images(sims, min_similarity=0.3, solver=solver).kept == (3,)
    assert assign_images(sims, min_similarity=0.0, solver=solver).kept == (0, 1, 2, 3)


@both
def test_kept_image_can_be_assigned_below_threshold(solver):
    # both images only like sentence 0; the second one ends up on a sentence it scores 0.05 with,
    # which the document rules later catch as low_similarity
    sims = np.array([[0.5, 0.10], [0.4, 0.05]])
    a = assign_images(sims, solver=solver)
    assert a.kept == (0, 1) and a.sentence_of == (0, 1)
    assert a.similarity_of == (0.5, 0.05) and min(a.similarity_of) < MIN_SIMILARITY


@both
def test_no_image_or_no_related_image(solver):
    assert assign_images(np.zeros((0, 5)), solver=solver).kept == ()
    a = assign_images(np.full((3, 4), 0.1), solver=solver)
    assert a.kept == () and a.dropped == (0, 1, 2) and a.layout.positions == ()
    a = assign_images(np.zeros((2, 0)), solver=solver)  # no sentences: nothing is related
    assert a.dropped == (0, 1)


# -- ties -----------------------------------------------------------------------------------------------

@both
def test_duplicate_sentences_take_the_image_on_their_first_copy(solver):
    sims = np.array([[0.1, 0.6, 0.2, 0.6, 0.6]])
    assert assign_images(sims, solver=solver).sentence_of == (1,)
    sims = np.array([[0.6, 0.1, 0.6, 0.6], [0.6, 0.1, 0.6, 0.6]])
    assert assign_images(sims, solver=solver).sentence_of == (0, 2)


@both
def test_identical_images_keep_their_order(solver):
    sims = np.array([[0.3, 0.1, 0.5, 0.1, 0.4]] * 3)
    a = assign_images(sims, solver=solver)
    assert a.sentence_of == (0, 2, 4)


def lexicographic_min_optimum(sims: np.ndarray) -> list[int]:
    """The rule the module documents, by enumeration: minimum tie-broken cost, then the smallest
    list of sentences (left out = after every sentence), then argmax for the left-out images."""
    costs = tie_broken_costs(sims)
    n, m = sims.shape
    options = []
    for cols in itertools.product([*range(m), -1], repeat=n):
        used = [c for c in cols if c >= 0]
        if len(used) != len(set(used)) or len(used) != min(n, m):
            continue
        cost = sum(costs[i, c] for i, c in enumerate(cols) if c >= 0)
        options.append((cost, [c if c >= 0 else m for c in cols]))
    best = min(c for c, _ in options)
    chosen = min(cols for c, cols in options if c == best)
    return [c if c < m else int(np.argmax(sims[i])) for i, c in enumerate(chosen)]


def test_ties_follow_the_documented_rule_and_exercise_the_lexicographic_path(monkeypatch):
    calls = []
    original = A._lexicographic_optimum
    monkeypatch.setattr(A, "_lexicographic_optimum", lambda *a: calls.append(1) or original(*a))
    rng = np.random.default_rng(6)
    for _ in range(400):
        n, m = int(rng.integers(2, 5)), int(rng.integers(1, 6))
        sims = rng.integers(0, 3, (n, m)) / 10  # values 0, 0.1, 0.2: ties everywhere
        expected = lexicographic_min_optimum(sims)
        for solver in SOLVERS:
            assert solve_assignment(sims, solver).tolist() == expected, (solver, sims)
    assert calls, "no residual tie was generated; the lexicographic path went untested"


# -- lapjv and scipy agree ---------------------------------------------------------------------------

def random_shapes(rng: np.random.Generator, count: int):
    for t in range(count):
        n = int(rng.integers(1, 9))
        m = int(rng.integers(1, 121)) if t % 4 else int(rng.integers(1, n + 1))  # a quarter: images >= sentences
        yield n, m


def test_lapjv_and_scipy_agree_on_1000_random_rectangular_matrices():
    rng = np.random.default_rng(7)
    shapes = {"tall": 0, "wide": 0}
    for n, m in random_shapes(rng, 1000):
        sims = rng.uniform(-0.1, 0.6, (n, m)).astype(np.float32).astype(np.float64)  # CLIP sims are float32
        a, b = (assign_images(sims, min_similarity=-1, solver=s) for s in SOLVERS)
        assert a == b, (n, m)
        assert a.total_similarity == b.total_similarity
        shapes["tall" if n > m else "wide"] += 1
    assert shapes["tall"] > 100 and shapes["wide"] > 500


def test_lapjv_and_scipy_agree_on_1000_matrices_full_of_ties():
    rng = np.random.default_rng(8)
    for n, m in random_shapes(rng, 1000):
        sims = np.round(rng.uniform(0.1, 0.5, (n, m)), 1)  # five distinct values
        a, b = (assign_images(sims, solver=s) for s in SOLVERS)
        assert a == b, (n, m, sims)


def test_lapjv_needs_doubles_for_exact_integer_costs():
    # why force_doubles=True: lapjv's default float32 path returns the worse assignment here
    costs = np.array([[1e8, 1e8 + 2], [1e8 + 2, 1e8 + 1]])
    assert lapjv(costs)[0].tolist() == [1, 0]  # total 2e8+4, not the optimum
    assert lapjv(costs, force_doubles=True)[0].tolist() == [0, 1]  # 2e8+1


# -- layout --------------------------------------------------------------------------------------------

@both
def test_layout_puts_each_image_after_its_sentence_in_document_order(solver):
    rng = np.random.default_rng(9)
    for n, m in random_shapes(rng, 200):
        sims = rng.uniform(0, 0.5, (n, m))
        a = assign_images(sims, solver=solver)
        lay = a.layout
        assert list(lay.positions) == sorted(lay.positions)
        assert sorted(lay.order) == list(a.kept)
        sentence = dict(zip(a.kept, a.sentence_of, strict=True))
        assert [sentence[i] for i in lay.order] == list(lay.positions)
        for k in range(1, len(lay.order)):  # same sentence: original image order
            if lay.positions[k] == lay.positions[k - 1]:
                assert lay.order[k] > lay.order[k - 1]
        assert lay.similarities == tuple(float(sims[i, p]) for i, p in zip(lay.order, lay.positions, strict=True))


def test_document_layout_sorts_by_sentence_then_image():
    lay = document_layout([0, 1, 2, 5], [7, 2, 7, 2], [0.1, 0.2, 0.3, 0.4])
    assert lay.order == (1, 5, 0, 2)
    assert lay.positions == (2, 2, 7, 7)
    assert lay.similarities == (0.2, 0.4, 0.1, 0.3)


# -- inputs --------------------------------------------------------------------------------------------

def test_bad_matrices_raise_with_the_fix():
    with pytest.raises(ValueError, match="NaN"):
        as_similarity_matrix([[0.3, float("nan")]])
    with pytest.raises(ValueError, match="2 columns but the document has 3 sentences"):
        as_similarity_matrix([[0.3, 0.2]], n_sentences=3)
    with pytest.raises(ValueError, match="2-D"):
        as_similarity_matrix([0.3, 0.2])
    with pytest.raises(ValueError, match="unknown assignment solver"):
        solve_assignment(np.ones((2, 2)), "hungarian")
    assert as_similarity_matrix([], n_sentences=4).shape == (0, 4)


def test_top_images_by_best_similarity_in_original_order():
    sims = np.array([[0.3, 0.2], [0.9, 0.1], [0.25, 0.5], [0.5, 0.4], [0.3, 0.1]])
    assert top_images(sims, 3) == [1, 2, 3]
    assert top_images(sims, 4) == [0, 1, 2, 3]  # 0 and 4 tie at 0.3: the earlier wins
    assert top_images(sims, 9) == [0, 1, 2, 3, 4]
