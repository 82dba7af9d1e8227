"""``ja-vila demo``: every capability on the embedded sample, offline, in a few minutes on 2 cores.

The embedded sample (``ja_vila/sample/documents.jsonl``) is rendered as a mini-crawl — a WARC of
Japanese web pages whose images a loopback server generates — and then goes through the same code
a real build uses. Each stage adds rows to the summary printed at the end.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_front import WebConfig, run_web_front
from ja_vila.sample.mini_crawl import build_mini_crawl
from ja_vila.testing.image_server import ImageServer

logger = logging.getLogger(__name__)

#: Fixed so that image URLs (and the sample keys derived from them) are the same on every run.
DEMO_PORTS = range(47621, 47641)


@dataclass
class SummaryRow:
    stage: str
    result: str
    where: str = ""
    seconds: float = 0.0


@dataclass
class DemoContext:
    out: Path
    seed: int
    image_base_url: str
    warc: Path | None = None
    rows: list[SummaryRow] = field(default_factory=list)

    def download_config(self) -> DownloadConfig:
        # the loopback image server is the only host the demo may reach
        return DownloadConfig(allow_networks=("127.0.0.1/32",), frequent_domain_max_share=None)


def stage_crawl(ctx: DemoContext) -> None:
    """Mini-crawl → Japanese documents → images downloaded politely and checked (issue 3)."""
    ctx.warc = build_mini_crawl(ctx.out / "crawl", ctx.image_base_url)
    ctx.rows.append(SummaryRow("mini-crawl", "14 sample pages written as a WARC", str(ctx.warc)))
    result = run_web_front(
        [ctx.warc], ctx.out / "work" / "web", WebConfig(download=ctx.download_config()), ExecutorConfig(tasks=1)
    )
    stages = {s.name: s for s in result.funnel.stages}
    ja = next(s for name, s in stages.items() if "Japanese" in name)
    images = [s for name, s in stages.items() if name.endswith("(images)")]
    kept_images = images[-1].kept if images else 0
    ctx.rows.append(SummaryRow("extract + download", f"{ja.kept}/{ja.input} pages Japanese, {kept_images} images downloaded and checked", str(result.documents)))


STAGES: list[Callable[[DemoContext], None]] = [stage_crawl]


def _free_port() -> int:
    for port in DEMO_PORTS:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    logger.warning("ports %s-%s are busy: using a random port, so sample keys will differ from other runs",
                   DEMO_PORTS.start, DEMO_PORTS.stop - 1)
    return 0


def run_demo(out: str | Path, seed: int = 0) -> list[SummaryRow]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with ImageServer(port=_free_port()) as server:
        ctx = DemoContext(out=out, seed=seed, image_base_url=server.base_url)
        for stage in STAGES:
            t0 = time.perf_counter()
            n = len(ctx.rows)
            stage(ctx)
            for row in ctx.rows[n:]:
                row.seconds = (time.perf_counter() - t0) / max(1, len(ctx.rows) - n)
    return ctx.rows


def format_summary(rows: list[SummaryRow], out: Path) -> str:
    width = max(len(r.stage) for r in rows)
    lines = ["", f"ja-vila demo — outputs under {out.resolve()}", ""]
    for r in rows:
        lines.append(f"  {r.stage:<{width}}  {r.result}  ({r.seconds:.1f}s)")
        if r.where:
            lines.append(f"  {'':<{width}}  → {r.where}")
    return "\n".join(lines)
