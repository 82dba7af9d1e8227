"""Near-duplicate counting (Hamming <= 5) for one corpus-wide dedup sample.

Ours (multi-index hashing, ``dataset_builders.hamming_index.count_near_duplicates``) vs the blocked
pairwise XOR + ``np.bitwise_count`` reference on the same hashes; the baseline is timed on 15K hashes
(it is quadratic), ours on 15K for the ratio and on a full 60K sample. Half the hashes sit in clusters
of 2-300 near-copies (icons, ads), the rest are random.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import best_of, report


def sample_hashes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, n, dtype=np.uint64)
    pos = 0
    while pos < n // 2:
        size = min(int(rng.integers(2, 300)), n - pos)
        flips = rng.integers(0, 64, size=(size, 3))
        n_flips = rng.integers(0, 4, size=size)
        for t in range(size):
            v = int(h[pos])
            for b in flips[t, : n_flips[t]]:
                v ^= 1 << int(b)
            h[pos + t] = v
        pos += size
    return h


def main() -> dict:
    from dataset_builders.hamming_index import count_near_duplicates, count_near_duplicates_bruteforce

    small, full = sample_hashes(15_000), sample_hashes(60_000, seed=1)
    assert np.array_equal(count_near_duplicates(small), count_near_duplicates_bruteforce(small))
    t_ours = best_of(lambda: count_near_duplicates(small), repeat=3)
    t_base = best_of(lambda: count_near_duplicates_bruteforce(small), repeat=1)
    t0 = time.perf_counter()
    count_near_duplicates(full)
    t_full = time.perf_counter() - t0
    return report(
        "near-duplicate count (Hamming<=5, 15K hashes)",
        ours=len(small) / t_ours,
        baseline=len(small) / t_base,
        unit="hashes/s",
        baseline_name="pairwise XOR+bitwise_count",
        seconds_for_60K_ours=round(t_full, 3),
    )


if __name__ == "__main__":
    main()
