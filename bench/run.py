"""Run the benchmarks: ``python -m bench.run [name ...]`` (all when no name is given).

Every module in ``bench/`` with a ``main()`` is a benchmark; this file is the registry. Each
comparison runs interleaved for ``BENCH_ROUNDS`` rounds (default 5); the run ends with a table of
median ratios, their min–max and a verdict ("inconclusive" when the spread is wider than the gap).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

NOT_BENCHMARKS = {"common", "run"}


def registry() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in NOT_BENCHMARKS
    )


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or registry()
    unknown = set(names) - set(registry())
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; available: {registry()}")
        return 2
    failed = []
    start = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"== {name}")
        t0 = time.perf_counter()
        try:
            module.main()
        except Exception as e:  # one broken benchmark must not hide the others
            failed.append(name)
            print(f"   {name} failed: {e!r}")
        print(f"   ({time.perf_counter() - t0:.1f}s)")
    from bench.common import RESULTS, table

    if RESULTS:
        print(f"\n== summary (ours / baseline, median of paired rounds; total {time.perf_counter() - start:.0f}s)")
        print(table(RESULTS))
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
