"""What the builder tests share: loading a built folder both ways, and killing a CLI build."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets

from dataset_builders.funnel import Funnel

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "ja_vila.cli"]


def load_rows(folder: Path) -> tuple[list[dict], list[dict]]:
    """Rows of a built dataset folder, read with `load_dataset` and streamed; both must agree."""
    # a private cache per call: `load_dataset(folder)` caches by folder and shard names, so two
    # folders with the same name (pytest tmp dirs) could otherwise return each other's rows
    rows = list(datasets.load_dataset(str(folder), split="train", cache_dir=tempfile.mkdtemp(prefix="ja-vila-load-")))
    streamed = list(datasets.load_dataset(str(folder), split="train", streaming=True))
    assert [r["__key__"] for r in rows] == [r["__key__"] for r in streamed]
    return rows, streamed


def assert_funnel_consistent(folder: Path, stats: dict) -> Funnel:
    """The funnel adds up, and the card shows exactly the funnel of stats.json."""
    funnel = Funnel.from_list(stats["funnel"])
    assert funnel.problems() == []
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert funnel.to_markdown() in card
    assert funnel.stages[-1].kept == stats["samples"]
    return funnel


def kill_and_resume(args: list[str], kills: int = 3, seed: int = 0, min_s: float = 2.0, max_s: float = 6.0) -> int:
    """Run the CLI ``args``, SIGKILL it at random moments ``kills`` times, then let it finish; returns
    how many kills landed before the run ended on its own."""
    rng, landed = random.Random(seed), 0
    for _ in range(kills):
        proc = subprocess.Popen(CLI + args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(min_s, max_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += 1
        proc.wait()
    subprocess.run(CLI + args, cwd=REPO, check=True, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return landed
