"""Forked workers die with their driver.

The local executor forks its task workers (and a manager process) from the ``ja-vila build`` driver.
When the driver is killed (``kill -9``, an OOM kill, a lost terminal), an orphaned worker would go on
downloading and writing completion markers while a re-run starts its own: two writers on one work
folder. :func:`die_with_parent`, run first thing in each forked child, ties the child's life to the
driver's: on Linux with ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (the kernel kills the child when its
parent dies), everywhere with a watchdog thread that kills the child once its parent pid changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_S = 0.5
_tied: set[int] = set()  # processes already tied (a fork inherits the parent's set, with another pid)


def _pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    event = threading.Event()
    while not event.wait(WATCH_INTERVAL_S):
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)


def die_with_parent(parent: int) -> None:
    """Make this (forked) process die when ``parent`` — the pid of the process that forked it — dies."""
    if os.getpid() in _tied:
        return
    _tied.add(os.getpid())
    _pdeathsig()
    if os.getppid() != parent:  # the parent died before the death signal was set
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(parent,), name="ja-vila-die-with-parent", daemon=True).start()


__all__ = ["die_with_parent"]
