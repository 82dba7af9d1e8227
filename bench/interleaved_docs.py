"""Documents/s per core of the ja-interleaved CPU stages (extract → rules → split → download → checks →
pHash → dedup → assignment → write) with the tiny CLIP, our fast splitter vs the paper's bunkai.

Input: the embedded sample pages replicated (distinct page URLs, shared image server) so the run is
long enough to time; one task, one worker (per core). Images come from the loopback server. The two
pipelines alternate for ``ROUNDS`` rounds, each in a fresh work dir.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

from bench.common import ROUNDS, quiet, rates, report
from dataset_builders.config import load_config
from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
from dataset_builders.tiny.sample import load_documents
from dataset_builders.tiny.sample.mini_crawl import page_url, render_page
from ja_vila.servers.image_server import ImageServer

REPO = Path(__file__).resolve().parents[1]
COPIES = 2


def write_corpus(folder: Path, base_url: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    with (folder / "pages.jsonl").open("w", encoding="utf-8") as f:
        for copy in range(COPIES):
            for doc in load_documents():
                url = page_url(doc).replace(".html", f"-{copy}.html")
                f.write(json.dumps({"url": url, "html": render_page(doc, base_url)}, ensure_ascii=False) + "\n")
                n += 1
    return n


def run(splitter: str, corpus: Path, work: Path) -> tuple[float, int]:
    cfg = load_config(InterleavedConfig, REPO / "configs" / "data" / "interleaved-tiny.yaml", [f"splitter={splitter}"])
    t0 = time.perf_counter()
    with quiet():
        stats = build_interleaved([corpus], work / "out", cfg, work_dir=work / "work")
    return time.perf_counter() - t0, stats["samples"]


def main() -> None:
    logging.disable(logging.WARNING)
    from loguru import logger

    logger.remove()
    with tempfile.TemporaryDirectory() as tmp, ImageServer() as server:
        tmp = Path(tmp)
        pages = write_corpus(tmp / "corpus", server.base_url)
        run("fast", tmp / "corpus", tmp / "warmup")  # image cache of the server, imports, models
        seconds: dict[str, list[float]] = {"fast": [], "bunkai": []}
        kept: dict[str, int] = {}
        for k in range(ROUNDS):  # fast, bunkai, fast, bunkai, ...
            for splitter in ("fast", "bunkai"):
                t, kept[splitter] = run(splitter, tmp / "corpus", tmp / f"{splitter}-{k}")
                seconds[splitter].append(t)
                shutil.rmtree(tmp / f"{splitter}-{k}", ignore_errors=True)
    report("interleaved CPU stages (tiny CLIP, 1 core)", rates(pages, seconds["fast"]), rates(pages, seconds["bunkai"]),
           "docs/s", "same pipeline with the bunkai splitter", pages=pages, kept_fast=kept["fast"],
           kept_bunkai=kept["bunkai"])


if __name__ == "__main__":
    main()
