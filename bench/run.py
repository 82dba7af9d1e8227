"""Run the benchmarks: ``python -m bench.run [name ...]`` (all when no name is given).

Every module in ``bench/`` with a ``main()`` is a benchmark; this file is the registry. A module
with an ``ENV`` dict (e.g. one BLAS thread for a "per core" figure) runs in a child process with
those variables set before anything is imported. Each
comparison runs interleaved for ``BENCH_ROUNDS`` rounds (default 5); the run ends with a table of
median ratios, their min–max and a verdict ("inconclusive" when the spread is wider than the gap).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOT_BENCHMARKS = {"common", "run"}


def registry() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name not in NOT_BENCHMARKS
    )


def run_in_child(name: str, env: dict[str, str]) -> None:
    """``python -m bench.<name>`` with ``env`` added; its rows join this run's summary."""
    from bench.common import RESULTS, RESULTS_FILE_ENV

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        rows = Path(tmp) / "rows.jsonl"
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=Path(__file__).resolve().parents[1],
                              env={**os.environ, **env, RESULTS_FILE_ENV: str(rows)}, timeout=1800)
        if rows.exists():
            RESULTS.extend(json.loads(line) for line in rows.read_text(encoding="utf-8").splitlines())
    if proc.returncode != 0:
        raise RuntimeError(f"bench.{name} exited with {proc.returncode}")


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
            env = getattr(module, "ENV", None)
            if env:
                print(f"   (own process: {' '.join(f'{k}={v}' for k, v in env.items())})", flush=True)
                run_in_child(name, env)
            else:
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
