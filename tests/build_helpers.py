"""What the builder tests share: loading a built folder both ways, and killing a CLI build (its
whole process group, on an observable event)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import datasets
from datatrove.pipeline.base import PipelineStep

from dataset_builders.funnel import Funnel
from tests.process_helpers import assert_session_gone, kill_group, run_until, start

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


def completion_markers(work: Path) -> int:
    """Stage tasks a build has finished so far: datatrove's completion files under the work folder."""
    return sum(1 for _ in work.rglob("completions/*")) if work.exists() else 0


def kill_and_resume(command: list[str], kill_events: list[Callable[[], Callable[[], bool]]]) -> int:
    """Run ``command`` (e.g. ``CLI + ["build", ...]``) once per entry of ``kill_events`` and SIGKILL
    its whole process group when that run's event happens (each entry makes the event at the run's
    start, e.g. ``grows_by(...)``); then let a last run finish. No process of any run may survive,
    and a run that ends before its event must succeed. Returns how many kills landed."""
    landed = 0
    for make_event in kill_events:
        with tempfile.TemporaryFile() as err:
            killed, proc = run_until(command, make_event(), deadline_s=600, cwd=REPO,
                                     stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            assert killed or proc.returncode == 0, err.read().decode(errors="replace")[-3000:]
        landed += killed
    proc = start(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=600)
    except BaseException:
        kill_group(proc)
        raise
    assert_session_gone(proc.pid)  # a build that ended on its own left no worker behind
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    return landed


class FailOnRank(PipelineStep):
    """A step whose task ``rank`` raises: a task that dies mid-stage, without killing anything."""

    name = "fail on rank"

    def __init__(self, rank: int):
        super().__init__()
        self.fail_rank = rank

    def run(self, data, rank: int = 0, world_size: int = 1):
        if rank == self.fail_rank:
            raise RuntimeError("task dies")
        yield from data or []
