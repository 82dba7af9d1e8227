"""Image→sentence assignment: scipy's rectangular solver vs lapjv padded to a square (MMC4 / paper).

``python -m bench.run assignment``. Documents of realistic shape (2–8 images × 10–100 sentences,
similarities like CLIP cosines: mostly 0.0–0.25 with a few related pairs), each solved by
``assign_images`` end to end (threshold drop, assignment, tie check, layout) with either solver.
Both must give identical assignments; the default solver (``DEFAULT_SOLVER``) is "ours".
"""

from __future__ import annotations

import statistics

import numpy as np
from lapjv import lapjv

from bench.common import rates, report, rounds
from dataset_builders.interleaved.assignment import DEFAULT_SOLVER, SOLVERS, assign_images, solve_assignment

N_DOCS = 1500


def documents(n: int = N_DOCS, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        n_img, n_sent = int(rng.integers(2, 9)), int(rng.integers(10, 101))
        sims = rng.normal(0.13, 0.05, (n_img, n_sent))
        related = rng.integers(0, n_sent, n_img)
        sims[np.arange(n_img), related] += rng.uniform(0.05, 0.25, n_img)
        docs.append(sims.astype(np.float32).astype(np.float64))
    return docs


def mmc4_original(sims: np.ndarray) -> None:
    """MMC4's own code path for reference: float32 lapjv on -S padded with 1000, no tie handling."""
    n, m = sims.shape
    square = np.full((max(n, m), max(n, m)), 1000.0)
    square[:n, :m] = -sims
    lapjv(square)


def main() -> dict:
    docs = documents()
    for sims in docs:  # same answer before timing anything
        a, b = (assign_images(sims, solver=s) for s in SOLVERS)
        if a != b:
            raise AssertionError(f"lapjv and scipy disagree on a {sims.shape} matrix")
    other = next(s for s in SOLVERS if s != DEFAULT_SOLVER)
    fns = {f"assign:{s}": (lambda s=s: [assign_images(d, solver=s) for d in docs]) for s in SOLVERS}
    fns.update({f"solve:{s}": (lambda s=s: [solve_assignment(d, s) for d in docs]) for s in SOLVERS})
    fns["mmc4"] = lambda: [mmc4_original(d) for d in docs]
    times = rounds(fns)
    med = {k: round(len(docs) / statistics.median(v)) for k, v in times.items()}
    names = {"lapjv": "lapjv (padded square)", "scipy": "scipy (rectangular)"}
    return report(
        "assignment", rates(len(docs), times[f"assign:{DEFAULT_SOLVER}"]), rates(len(docs), times[f"assign:{other}"]),
        "docs/s", names[other], ours_name=names[DEFAULT_SOLVER], docs=len(docs), shapes="2-8 x 10-100",
        identical=True, solve_only_docs_s={s: med[f"solve:{s}"] for s in SOLVERS},
        mmc4_original_lapjv_docs_s=med["mmc4"],
    )

if __name__ == "__main__":
    main()
