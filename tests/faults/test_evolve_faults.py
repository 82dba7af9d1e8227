"""`ja-vila evolve` with its LLM unreachable: a generation that produced no sample is not
complete — the run exits non-zero with a message naming the generation and the LLM failures, no
COMPLETE marker is written, and the next run (LLM back) redoes that generation."""

from __future__ import annotations

import json
import socket

import pytest
from typer.testing import CliRunner

from ja_vila.cli import app
from ja_vila.servers.evolve_server import EvolveScriptedServer
from tests.evolve_helpers import make_inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("evolve-faults-in"))


def _closed_port_url() -> str:
    """A loopback URL nobody listens on (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _evolve(inputs, out, url: str):
    sets = [f"base_model={inputs['base']}", f"seed_dataset={inputs['seed']}", f"eval.data={inputs['val']}",
            f"proposer.base_url={url}", "generations=1"]
    args = ["evolve", "--config", "configs/evolve/tiny.yaml", "--out", str(out)]
    return CliRunner().invoke(app, [*args, *(x for s in sets for x in ("--set", s))])


def test_unreachable_llm_is_not_a_complete_generation_and_a_rerun_retries_it(inputs, tmp_path):
    out = tmp_path / "out"
    down = _evolve(inputs, out, _closed_port_url())
    assert down.exit_code not in (0, None), down.output
    assert "generation 1" in down.output and "no sample" in down.output
    assert not (out / "gen_01" / "COMPLETE.json").exists()
    assert json.loads((out / "metrics.json").read_text())["status"] != "complete"
    with EvolveScriptedServer() as server:
        up = _evolve(inputs, out, server.url)
        assert server.count() > 0  # generation 1 was redone, not skipped
    assert up.exit_code == 0, up.output
    summary = json.loads((out / "gen_01" / "COMPLETE.json").read_text())
    assert summary["samples"] > 0
