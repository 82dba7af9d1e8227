"""``kill -9`` of the driver (issue 16 item 4): the workers it forked die with it, so nothing goes on
downloading or writing completion markers into the work folder after the driver is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import CLI, REPO

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, session, …); None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def session_members(sid: int) -> dict[int, list[str]]:
    """Live (not zombie) processes of session ``sid``."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[3]) == sid and fields[0] != "Z":
            out[int(entry.name)] = fields
    return out


def wait_for(predicate, deadline_s: float, what: str):
    end = time.monotonic() + deadline_s
    while not (value := predicate()):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def test_workers_die_with_a_killed_driver(tmp_path, image_server):
    # images on a route that holds every request: the two download workers stay busy
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.url("/bad/hang"))
    args = ["build", "pairs", "--input", str(corpus), "--output", str(tmp_path / "out"), "--config", str(TINY),
            "--tasks", "2", "--workers", "2", "--set", "web.download.url_deadline=600"]
    driver = subprocess.Popen(CLI + args, cwd=REPO, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def busy_workers():
            if driver.poll() is not None or not (tmp_path / "out.work" / "logs" / "download").exists():
                return None
            children = [p for p, f in session_members(driver.pid).items() if int(f[1]) == driver.pid]
            return children if len(children) >= 3 else None  # the queue manager and two task workers

        children = wait_for(busy_workers, 180, "two download workers")
        assert driver.poll() is None
        os.kill(driver.pid, signal.SIGKILL)  # only the driver
        driver.wait(timeout=60)
        end = time.monotonic() + 60
        while (alive := session_members(driver.pid)) and time.monotonic() < end:
            time.sleep(0.1)
        assert not alive, f"workers {sorted(alive)} of the killed driver still run (its children were {children})"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=60)
