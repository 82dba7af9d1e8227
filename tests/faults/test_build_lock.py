"""Two builds on one output (issue 16 item 3): the second stops at once naming the holder; a lock left
by a build that died is taken over."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import time

import pytest

from dataset_builders.pipeline.build_lock import LOCK, BuildLocked, build_lock
from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import CLI, REPO

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"


def wait_for(predicate, deadline_s: float = 120.0, what: str = "condition") -> None:
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def test_second_build_on_the_same_output_stops_at_once_naming_the_holder(tmp_path, image_server):
    # images on a route that never answers: the first build sits in its download stage
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.url("/bad/hang"))
    out = tmp_path / "out"
    args = ["build", "pairs", "--input", str(corpus), "--output", str(out), "--config", str(TINY),
            "--set", "web.download.url_deadline=600"]
    first = subprocess.Popen(CLI + args, cwd=REPO, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (tmp_path / "out.work" / "logs" / "download").exists() or first.poll() is not None,
                 what="the first build to reach its download stage")
        assert first.poll() is None
        second = subprocess.Popen(CLI + args, cwd=REPO, start_new_session=True, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            _, stderr = second.communicate(timeout=120)
        finally:
            kill_group(second)
        assert second.returncode != 0
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("error:") and "in use by another build" in last
        assert f"pid {first.pid} on " in last and "since " in last and "--output" in last
        assert "Traceback" not in stderr
        assert first.poll() is None  # the first build goes on
    finally:
        kill_group(first)


def _hold_and_wait(work: str, ready) -> None:
    with build_lock(work):
        ready.set()
        time.sleep(600)


def test_a_lock_of_a_dead_build_is_taken_over(tmp_path):
    work = tmp_path / "work"
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_and_wait, args=(str(work), ready))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(BuildLocked, match=rf"pid {holder.pid} on .*since"), build_lock(work):
            pass
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(60)
    with build_lock(work) as path:  # the kernel released the dead holder's lock
        assert path == work / LOCK
        assert f'"pid": {os.getpid()}' in path.read_text()
