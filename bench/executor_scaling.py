"""Executor scaling: the CPU stages (extract + download) on datatrove's local executor, 1 vs 2 workers.

``python -m bench.executor_scaling`` (or ``python -m bench.run executor_scaling``). The embedded
sample corpus is replicated ``COPIES`` times (each copy with its own page and image URLs, so every
image is really downloaded) into ``TASKS`` JSONL files; :func:`ja_vila.testing.front.run_front` (extract,
Japanese filter, domain counts, download, size rules, pHash, frequent-image merge) runs over the same
``TASKS`` tasks with 1 and with 2 worker processes, alternating for ``ROUNDS`` rounds, each in a
fresh work dir. The loopback image
server runs in its own process so it does not share a GIL with the 1-worker run. Per-domain
politeness limits are raised as in ``bench/download.py`` (all images live on one loopback host).

Reported: pages/s with 2 workers (ours) and with 1 (baseline), the speed-up, the parallel
efficiency ``time(1) / (2 * time(2))`` (1.0 = perfect; medians), and the cores each run kept busy (CPU
seconds of the driver and its workers / wall seconds; the image server's CPU is not included).
One worker is not one core: the downloader decodes and resizes in ``decode_workers`` threads beside
its event loop, so a single worker already keeps ~1.5 cores busy. On a 2-core machine (with the
image server on the same cores) 2 workers therefore cannot beat 1; run this on >= 4 cores to see
the executor's scaling.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROUNDS, quiet, rates, report

COPIES = 4
TASKS = 4
# as bench/download.py: a real per-domain limit that does not bind here (the default 8 requests/s per
# domain per task would make this a benchmark of the rate limiter: every image is on 127.0.0.1)
PER_DOMAIN_CONCURRENCY = 16
PER_DOMAIN_RATE = 400.0

# the server caches generated images by name without the copy prefix: the same bytes under other
# URLs (each still downloaded, decoded and hashed), so serving costs little CPU next to the workers
SERVER = """
import functools, re, sys
import ja_vila.servers.image_server as m
cached = functools.lru_cache(maxsize=None)(m.make_image)
m.make_image = lambda name, w, h, fmt: cached(re.sub(r"^c[0-9]+-", "", name), w, h, fmt)
with m.ImageServer() as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


def write_corpus(folder: Path, base_url: str, copies: int = COPIES, files: int = TASKS) -> int:
    """The sample pages ``copies`` times, with distinct page and image URLs per copy; returns the page count."""
    from dataset_builders.tiny.sample import load_documents
    from dataset_builders.tiny.sample.mini_crawl import page_url, render_page

    records = []
    for k in range(copies):
        for doc in load_documents():
            html = render_page(doc, base_url).replace("/img/", f"/img/c{k}-")
            records.append({"url": f"{page_url(doc)}?copy={k}", "html": html})
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        with (folder / f"part-{i:03d}.jsonl").open("w", encoding="utf-8") as f:
            for rec in records[i::files]:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return len(records)


def run_front(corpus: Path, work: Path, workers: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process + its finished worker processes) of one front half."""
    from dataset_builders.config import load_config
    from dataset_builders.pipeline.stage import ExecutorConfig
    from dataset_builders.pipeline.web_steps import WebConfig
    from ja_vila.testing.front import run_front as run_stages

    cfg = load_config(WebConfig, None, [
        'download={allow_networks: ["127.0.0.1/32"], frequent_domain_max_share: null, '
        f'per_domain_concurrency: {PER_DOMAIN_CONCURRENCY}, per_domain_rate: {PER_DOMAIN_RATE}}}'
    ])
    c0, t0 = os.times(), time.perf_counter()
    with quiet():
        run_stages([corpus], work, cfg, ExecutorConfig(tasks=TASKS, workers=workers))
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
    return wall, cpu


def main() -> dict:
    from datatrove.utils.logging import logger as dt_logger

    dt_logger.remove()  # datatrove's per-task console logs would drown the report
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
            tmp = Path(tmp)
            pages = write_corpus(tmp / "corpus", base_url)
            run_front(tmp / "corpus", tmp / "warmup", 1)  # imports, robots cache of the server, page cache
            wall: dict[int, list[float]] = {1: [], 2: []}
            cpu: dict[int, list[float]] = {1: [], 2: []}
            for k in range(ROUNDS):  # 1 worker, 2 workers, 1, 2, ... each in a fresh work dir
                for workers in (1, 2):
                    t, c = run_front(tmp / "corpus", tmp / f"w{workers}-{k}", workers)
                    wall[workers].append(t)
                    cpu[workers].append(c)
                    shutil.rmtree(tmp / f"w{workers}-{k}", ignore_errors=True)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    t1, t2 = statistics.median(wall[1]), statistics.median(wall[2])
    busy = {w: statistics.median(c / t for c, t in zip(cpu[w], wall[w], strict=True)) for w in (1, 2)}
    return report("executor_scaling (extract+download, local executor)", rates(pages, wall[2]), rates(pages, wall[1]),
                  "pages/s", "1 worker", pages=pages, tasks=TASKS, seconds_1_worker=round(t1, 2),
                  seconds_2_workers=round(t2, 2), efficiency=round(t1 / (2 * t2), 3),
                  cores_busy_1_worker=round(busy[1], 2), cores_busy_2_workers=round(busy[2], 2),
                  machine_cores=os.cpu_count())

if __name__ == "__main__":
    main()
