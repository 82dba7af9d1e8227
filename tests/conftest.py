"""Fixtures shared by the whole suite: real data from ../shared/realdata (skipped when absent),
temporary output folders, and quiet logging."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Nothing in the suite may reach the Hub: every model is built from a config, every dataset is local.
for _flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_flag] = "1"

# A private datasets cache for the session: `load_dataset(folder)` caches by folder and shard
# names, so two test folders with the same name could otherwise read each other's rows.
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="ja-vila-hf-datasets-"))

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
