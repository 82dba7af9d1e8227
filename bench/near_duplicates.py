"""Near-duplicate counting (Hamming <= 5) for one corpus-wide dedup sample.

Ours (multi-index hashing, ``dataset_builders.hamming_index.count_near_duplicates``) vs the blocked
pairwise XOR + ``np.bitwise_count`` reference on the same hashes, interleaved rounds on ``N_RATIO``
hashes (the baseline is quadratic); ours also once on a full 60K sample. Half the hashes sit in clusters
of 2-300 near-copies (icons, ads), the rest are random.
"""

from __future__ import annotations

import numpy as np

from bench.common import rates, report, rounds, timed

N_RATIO = 10_000


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

    small, full = sample_hashes(N_RATIO), sample_hashes(60_000, seed=1)
    assert np.array_equal(count_near_duplicates(small), count_near_duplicates_bruteforce(small))
    times = rounds({"ours": lambda: count_near_duplicates(small),
                    "baseline": lambda: count_near_duplicates_bruteforce(small)}, warmup=False)
    t_full = timed(lambda: count_near_duplicates(full))
    return report(
        f"near-duplicate count (Hamming<=5, {N_RATIO // 1000}K hashes)",
        ours=rates(len(small), times["ours"]),
        baseline=rates(len(small), times["baseline"]),
        unit="hashes/s",
        baseline_name="pairwise XOR+bitwise_count",
        seconds_for_60K_ours=round(t_full, 3),
    )

if __name__ == "__main__":
    main()
