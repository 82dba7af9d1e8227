"""Processes a test starts: each in its own session, killed as a whole group, and checked gone.

A build forks workers (datatrove's local executor, decode pools, browsers); SIGKILL on the parent
alone leaves them running. So a test starts a child with :func:`start`, which puts it in a new
session (its pid is the session and process-group id), kills it with :func:`kill_group`
(``os.killpg(pgid, SIGKILL)``), and :func:`kill_group` / :func:`assert_session_gone` check in
``/proc`` that no live process of that session is left. Kills happen on an observable event
(:func:`run_until`: a file appears, a server has seen N requests), never after a sleep.

Every process a test starts carries :data:`MARKER_ENV` in its environment (set by conftest.py for
the pytest process and inherited), so the suite can find leftovers even after they were re-parented.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

#: Environment variable every process started by the suite inherits (value: the pytest pid).
MARKER_ENV = "JA_VILA_TEST_SUITE"
#: How long a killed group may take to disappear from /proc.
GONE_DEADLINE_S = 30.0
POLL_S = 0.02


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, session) of ``pid`` from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3])


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie is dead, only not yet reaped)."""
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is ``sid``."""
    out = []
    for pid in _pids():
        st = _stat(pid)
        if st is not None and st[3] == sid and st[0] not in ("Z", "X"):
            out.append(pid)
    return out


def describe(pids: Sequence[int]) -> str:
    rows = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        rows.append(f"{pid}: {cmd[:160]}")
    return "; ".join(rows)


def kill_pids(pids: Sequence[int]) -> None:
    """SIGKILL each of ``pids`` (those already gone are skipped)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def start(cmd: Sequence[str], **popen_kwargs) -> subprocess.Popen:
    """``Popen(cmd)`` as the leader of a new session (so its whole group can be killed at once)."""
    return subprocess.Popen(list(cmd), start_new_session=True, **popen_kwargs)


def assert_session_gone(sid: int, deadline_s: float = GONE_DEADLINE_S) -> None:
    """Wait (up to ``deadline_s``) until no live process of session ``sid`` is left; else kill the
    stragglers and fail, naming them."""
    end = time.monotonic() + deadline_s
    while True:
        left = session_members(sid)
        if not left:
            return
        if time.monotonic() > end:
            text = describe(left)
            kill_pids(left)
            raise AssertionError(f"{len(left)} process(es) of session {sid} survived: {text}")
        time.sleep(POLL_S)


def kill_group(proc: subprocess.Popen, deadline_s: float = GONE_DEADLINE_S) -> None:
    """SIGKILL the process group of ``proc`` (started by :func:`start`), reap it, and assert that no
    process of its session survives."""
    with contextlib.suppress(ProcessLookupError):  # the leader and its group may be gone already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=deadline_s)
    assert_session_gone(proc.pid, deadline_s)


def wait_for(event: Callable[[], bool], proc: subprocess.Popen | None = None, deadline_s: float = 300.0,
             what: str = "event") -> bool:
    """Poll ``event`` until it is true (returns True) or ``proc`` exits first (returns False).

    Fails after ``deadline_s``: every wait has a deadline.
    """
    end = time.monotonic() + deadline_s
    while True:
        if event():
            return True
        if proc is not None and proc.poll() is not None:
            return event()
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {deadline_s:.0f}s")
        time.sleep(POLL_S)


def grows_by(count: Callable[[], int], n: int) -> Callable[[], bool]:
    """An event for :func:`run_until`: ``count()`` (a server's request count, files in a folder) has
    grown by ``n`` since this call."""
    start = count()
    return lambda: count() >= start + n


def run_until(cmd: Sequence[str], event: Callable[[], bool], deadline_s: float = 300.0,
              **popen_kwargs) -> tuple[bool, subprocess.Popen]:
    """Start ``cmd`` in its own session; when ``event()`` becomes true kill the whole group.

    Returns ``(killed, proc)``: ``killed`` is False when the process finished before the event.
    Either way no process of the session is left when this returns.
    """
    proc = start(cmd, **popen_kwargs)
    try:
        happened = wait_for(event, proc, deadline_s, what=f"kill event for {cmd[-1] if cmd else cmd}")
    except BaseException:
        kill_group(proc)
        raise
    if happened and proc.poll() is None:
        kill_group(proc)
        return True, proc
    proc.wait(timeout=deadline_s)
    assert_session_gone(proc.pid)  # exited on its own: its workers must have ended too
    return False, proc


def descendants(root: int) -> list[int]:
    """Live descendants of ``root`` (forked workers keep their parent's /proc environ, so they are
    found by parentage rather than by :data:`MARKER_ENV`)."""
    parent = {}
    for pid in _pids():
        st = _stat(pid)
        if st is not None and st[0] not in ("Z", "X"):
            parent[pid] = st[1]
    found: list[int] = []
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier}
        found += frontier
    return found


def suite_leftovers(marker_value: str, exclude: set[int]) -> list[int]:
    """Live processes (not in ``exclude``) whose environment carries ``MARKER_ENV=marker_value``."""
    needle = f"{MARKER_ENV}={marker_value}".encode()
    found = []
    for pid in _pids():
        if pid in exclude:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and alive(pid):
            found.append(pid)
    return found
