"""What every benchmark shares: interleaved rounds, and one report line format.

A benchmark runs ours and its baseline in the same process (or run), alternating A, B, A, B … for
``ROUNDS`` rounds, so both see the same machine load; each round gives one ratio ours / baseline
(throughputs: higher is better). The report prints the median ratio with its min–max over the
rounds, and says "inconclusive" when that spread is wider than the gap the median claims
(on a log scale: log(max / min) > |log(median)|, which always holds when the range straddles 1×).
A shared machine makes single figures meaningless (1.30×, 0.53× and 0.56× on three runs of one commit):
read the spread before the median.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

#: Rounds per comparison (``BENCH_ROUNDS`` overrides; at least 5 for a figure worth quoting).
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
#: Every row reported in this process, for :mod:`bench.run`'s closing table.
RESULTS: list[dict] = []
#: Set by :mod:`bench.run` for a benchmark it runs in a child process: rows are appended there too.
RESULTS_FILE_ENV = "BENCH_RESULTS_FILE"
#: ``ENV`` for a benchmark whose figure is "per core": one BLAS/OpenMP thread. On a loaded machine
#: a multi-threaded BLAS spinning over small matrices made numpy code 12x slower than on one thread.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send stdout and stderr of what runs inside to /dev/null (datatrove adds a stderr log sink and
    prints its stats for every task, which would drown the report). Exceptions still propagate."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        yield


def timed(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def rounds(fns: dict[str, Callable[[], Any]], n: int = ROUNDS, warmup: bool = True) -> dict[str, list[float]]:
    """Wall seconds of each function, called in turn (A, B, C, A, B, C …) ``n`` times.

    ``warmup`` runs each once first, untimed (imports, caches, lazy model builds).
    """
    if warmup:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def rates(work: float, seconds: Sequence[float]) -> list[float]:
    """Throughput per round: ``work`` units over each round's seconds."""
    return [work / s for s in seconds]


def verdict(ratios: Sequence[float]) -> str:
    """'inconclusive' when the rounds' spread is wider than the gap the median claims, else 'ok'."""
    lo, hi, med = min(ratios), max(ratios), statistics.median(ratios)
    if lo <= 0 or med <= 0:
        return "inconclusive"
    return "inconclusive" if math.log(hi / lo) > abs(math.log(med)) else "ok"


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if abs(x) >= 10 else f"{x:,.3g}"


def report(name: str, ours: Sequence[float], baseline: Sequence[float], unit: str, baseline_name: str,
           **extra: Any) -> dict:
    """Print and return one comparison from paired rounds.

    ``ours`` and ``baseline`` are throughputs (higher is better), one per round, round ``i`` of both
    measured back to back. The ratio is taken per round, then summarised: median, min, max.
    """
    if len(ours) != len(baseline) or not ours:
        raise ValueError(f"{name}: ours has {len(ours)} rounds, the baseline {len(baseline)}; they must pair up")
    ratios = [o / b if b else float("nan") for o, b in zip(ours, baseline, strict=True)]
    med, lo, hi = statistics.median(ratios), min(ratios), max(ratios)
    row = {"bench": name, "unit": unit, "rounds": len(ratios), "ours": round(statistics.median(ours), 3),
           "baseline": round(statistics.median(baseline), 3), "baseline_name": baseline_name,
           "ratio": round(med, 3), "ratio_min": round(lo, 3), "ratio_max": round(hi, 3),
           "verdict": verdict(ratios), **extra}
    note = " | INCONCLUSIVE: the spread is wider than the gap" if row["verdict"] != "ok" else ""
    print(f"{name}: ours {_fmt(row['ours'])} {unit} | {baseline_name} {_fmt(row['baseline'])} {unit} | "
          f"ratio {med:.2f}x (min {lo:.2f}-max {hi:.2f}, {len(ratios)} rounds){note}"
          + "".join(f" | {k} {v}" for k, v in extra.items()))
    print("  " + json.dumps(row, ensure_ascii=False), flush=True)
    RESULTS.append(row)
    if os.environ.get(RESULTS_FILE_ENV):
        with open(os.environ[RESULTS_FILE_ENV], "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return row


def table(rows: Sequence[dict]) -> str:
    """The closing summary: one line per comparison (median ratio, min–max, verdict)."""
    lines = [f"{'benchmark':<48} {'ours':>12} {'baseline':>12} {'ratio':>7}  {'min-max':<13} verdict",
             "-" * 104]
    for r in rows:
        lines.append(f"{r['bench'][:48]:<48} {_fmt(r['ours']):>12} {_fmt(r['baseline']):>12} {r['ratio']:>6.2f}x  "
                     f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}{'':<3} {r['verdict']}  ({r['unit']}; vs {r['baseline_name']})")
    return "\n".join(lines)
