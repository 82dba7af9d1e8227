"""What every benchmark shares: timing, and one report line format.

A benchmark runs its baseline in the same process (or run) as ours and reports both figures and
the ratio ours / baseline (higher is better for throughput).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Fastest wall time of ``repeat`` runs of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def report(name: str, ours: float, baseline: float, unit: str, baseline_name: str, **extra: Any) -> dict:
    """Print and return one result: both throughputs (higher is better) and ours / baseline."""
    ratio = ours / baseline if baseline else float("nan")
    row = {"bench": name, "unit": unit, "ours": round(ours, 3), "baseline": round(baseline, 3),
           "baseline_name": baseline_name, "ratio": round(ratio, 3), **extra}
    print(f"{name}: ours {ours:,.1f} {unit} | {baseline_name} {baseline:,.1f} {unit} | ratio {ratio:.2f}x"
          + "".join(f" | {k} {v}" for k, v in extra.items()))
    print("  " + json.dumps(row, ensure_ascii=False))
    return row
