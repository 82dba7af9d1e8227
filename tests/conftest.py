"""Fixtures shared by the whole suite: real data from ../shared/realdata (skipped when absent),
temporary output folders, quiet logging, and a final check that no process a test started is alive."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from tests.process_helpers import MARKER_ENV, descendants, describe, kill_pids, suite_leftovers

# Nothing in the suite may reach the Hub: every model is built from a config, every dataset is local.
for _flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_flag] = "1"

# A private datasets cache for the session: `load_dataset(folder)` caches by folder and shard
# names, so two test folders with the same name could otherwise read each other's rows.
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="ja-vila-hf-datasets-"))

# Every process the suite starts inherits this, so leftovers are found even once re-parented.
os.environ[MARKER_ENV] = str(os.getpid())
#: Helpers of multiprocessing / multiprocess (datatrove) that live as long as pytest by design.
_BENIGN = ("resource_tracker import main", "forkserver import main")
LEFTOVER_DEADLINE_S = 20.0

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("JA_VILA_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of real public files (CI has it beside the clone); tests that need it skip without it."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA} (set JA_VILA_REALDATA or clone beside ../shared)")
    return REALDATA


@pytest.fixture
def image_server():
    """A started loopback :class:`~ja_vila.servers.image_server.ImageServer` (fresh counters per test)."""
    from ja_vila.servers.image_server import ImageServer

    with ImageServer() as server:
        yield server


@pytest.fixture
def server():
    """A started scripted OpenAI-compatible server (:class:`~ja_vila.servers.openai_server.ScriptedOpenAIServer`)."""
    from ja_vila.servers.openai_server import ScriptedOpenAIServer

    with ScriptedOpenAIServer() as s:
        yield s


def _leftovers() -> list[int]:
    me = os.getpid()
    pids = set(suite_leftovers(os.environ[MARKER_ENV], exclude={me})) | set(descendants(me))
    return sorted(pid for pid in pids if not any(b in describe([pid]) for b in _BENIGN))


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fails the run if a process started by a test (a child of pytest, or anything carrying the
    suite's environment marker, e.g. a re-parented build worker) is still alive at the end."""
    yield
    deadline = time.monotonic() + LEFTOVER_DEADLINE_S  # let processes that are exiting finish
    while (left := _leftovers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        text = describe(left)
        kill_pids(left)
        pytest.fail(f"{len(left)} process(es) started by the tests were still alive at the end of the "
                    f"suite (now killed): {text}", pytrace=False)
