"""Near-duplicate search over 64-bit perceptual hashes (Hamming distance <= k).

Two uses: grouping the few images of one page (intra-document dedup) and counting, for every hash
of a 60K-image sample, how many others lie within distance k (corpus-wide dedup).

Counting uses multi-index hashing: the 64 bits are cut into ``k + 1`` chunks, and by the pigeonhole
principle two hashes within distance k agree exactly on at least one chunk. For each chunk the
hashes are sorted by that chunk, so candidate pairs are neighbours within a run of equal chunk
values; each candidate is checked with XOR + popcount and counted only in the first chunk it agrees
on, so no pair is counted twice. Identical hashes are collapsed first (icons repeated thousands of
times would otherwise make one huge run). Cost is about linear for web data; the worst case (many
distinct hashes sharing one chunk) degrades to the pairwise count it replaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MAX_DISTANCE = 5


def _chunks(max_distance: int) -> list[tuple[int, int]]:
    """(shift, width) of ``max_distance + 1`` bit chunks covering 64 bits, as equal as possible."""
    n = max_distance + 1
    if not 1 <= n <= 64:
        raise ValueError(f"max_distance must be between 0 and 63, got {max_distance}")
    widths = [64 // n + (1 if i < 64 % n else 0) for i in range(n)]
    out, shift = [], 0
    for w in widths:
        out.append((shift, w))
        shift += w
    return out


def _as_uint64(hashes: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(hashes, dtype=np.uint64) if len(hashes) else np.zeros(0, dtype=np.uint64)
    return arr.reshape(-1)


def near_pairs(hashes: Sequence[int] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE) -> np.ndarray:
    """All index pairs ``(i, j)``, ``i < j``, of *distinct* hash values within ``max_distance`` bits.

    Equal values are not reported here (callers collapse them first); returns an ``(n_pairs, 2)`` array.
    """
    h = _as_uint64(hashes)
    found: list[np.ndarray] = []
    chunks = _chunks(max_distance)
    for c, (shift, width) in enumerate(chunks):
        mask = np.uint64((1 << width) - 1)
        key = (h >> np.uint64(shift)) & mask
        order = np.argsort(key, kind="stable")
        sk = key[order]
        d = 1
        while d < len(order):
            same = sk[d:] == sk[:-d]
            if not same.any():
                break
            i, j = order[:-d][same], order[d:][same]
            x = h[i] ^ h[j]
            ok = (np.bitwise_count(x) <= max_distance) & (x != 0)
            for shift2, width2 in chunks[:c]:  # counted in an earlier chunk already
                ok &= ((x >> np.uint64(shift2)) & np.uint64((1 << width2) - 1)) != 0
            if ok.any():
                found.append(np.stack([np.minimum(i[ok], j[ok]), np.maximum(i[ok], j[ok])], axis=1))
            d += 1
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(found).astype(np.int64)


def count_near_duplicates(
    hashes: Sequence[int] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE
) -> np.ndarray:
    """For each hash, how many *other* entries are within ``max_distance`` bits (equal ones included)."""
    h = _as_uint64(hashes)
    if len(h) == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, inverse, mult = np.unique(h, return_inverse=True, return_counts=True)
    counts = mult.astype(np.int64) - 1
    pairs = near_pairs(uniq, max_distance)
    if len(pairs):
        counts += np.bincount(pairs[:, 0], weights=mult[pairs[:, 1]], minlength=len(uniq)).astype(np.int64)
        counts += np.bincount(pairs[:, 1], weights=mult[pairs[:, 0]], minlength=len(uniq)).astype(np.int64)
    return counts[inverse.reshape(-1)]


def count_near_duplicates_bruteforce(
    hashes: Sequence[int] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE, block: int = 2048
) -> np.ndarray:
    """Reference implementation (XOR + popcount over all pairs, in blocks); used to test the fast one."""
    h = _as_uint64(hashes)
    counts = np.zeros(len(h), dtype=np.int64)
    for start in range(0, len(h), block):
        part = h[start : start + block]
        dist = np.bitwise_count(part[:, None] ^ h[None, :])
        counts[start : start + block] = (dist <= max_distance).sum(axis=1) - 1
    return counts


def group_near_duplicates(
    hashes: Sequence[int], max_distance: int = DEFAULT_MAX_DISTANCE
) -> list[list[int]]:
    """Transitive groups (connected components) of indices whose hashes are within ``max_distance``.

    Groups are lists of indices in ascending order, listed by their first index; singletons included.
    Deterministic: the result depends only on the hash values and their order.
    """
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if (hashes[i] ^ hashes[j]).bit_count() <= max_distance:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])
