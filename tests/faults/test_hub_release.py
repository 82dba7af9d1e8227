"""A Hub endpoint that accepts connections and never answers: ``ja-vila release`` gives up after
bounded, timed-out retries with a clear error instead of hanging forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from ja_vila.testing.tarpit import TarpitServer
from tests.build_helpers import REPO
from tests.release_helpers import make_pairs

TOKEN = "hf_faultsTokenNeverShown0123456789"


@pytest.mark.slow  # a CLI subprocess
def test_release_against_a_silent_endpoint_ends_with_a_clear_error(tmp_path):
    folder = make_pairs(tmp_path / "ja-pairs")
    with TarpitServer(hold_s=120) as tarpit:
        env = {**os.environ, "HF_ENDPOINT": tarpit.url, "HF_TOKEN": TOKEN, "HF_HOME": str(tmp_path / "hf-home"),
               "JA_VILA_HUB_TIMEOUT": "1", "JA_VILA_HUB_ATTEMPTS": "2"}
        for flag in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):  # the suite is offline;
            env.pop(flag, None)  # this endpoint is a loopback socket
        proc = subprocess.Popen([sys.executable, "-m", "ja_vila.cli", "release", "dataset", str(folder),
                                 "--repo", "org/ja-pairs", "--license", "cc-by-4.0",
                                 "--contact", "takedown@example.org"], cwd=REPO, env=env, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail("ja-vila release hung on an endpoint that never answers")
        accepted = tarpit.accepted
    assert proc.returncode == 2, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: create_repo") and "2 attempt(s)" in last and "did not answer" in last, err
    assert accepted >= 2 and TOKEN not in out + err
