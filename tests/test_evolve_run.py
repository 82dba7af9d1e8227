"""`ja-vila evolve` end to end on a tiny model, tiny data and the scripted loopback server: two
generations in each mode, resume after a kill, the budget cap, and every generation loadable."""

from __future__ import annotations

import json
import struct

import datasets
import pytest

from ja_vila.evolve import run as evolve_run
from ja_vila.evolve import run_evolve
from ja_vila.evolve.config import BudgetSettings
from ja_vila.servers.evolve_server import EvolveScriptedServer
from tests.evolve_helpers import make_inputs, tiny_config


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("evolve-in"))


def _load(folder, tmp_path):
    return datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / f"hf-{folder.parent.name}"))


@pytest.mark.parametrize("mode", ["task", "multi_agent", "qa"])
def test_two_generations_each_mode(inputs, tmp_path, mode):
    out = tmp_path / "out"
    with EvolveScriptedServer() as server, EvolveScriptedServer() as refiner:
        result = run_evolve(tiny_config(inputs, server.url, mode=mode, refiner_url=refiner.url), out)
        if mode == "multi_agent":  # the second model is its own backend
            assert refiner.count() == 2 and all("洗練" in r.last_user_text for r in refiner.requests)
    assert result["status"] == "complete" and result["generations_done"] == 2
    for g in (1, 2):
        gdir = out / f"gen_{g:02d}"
        summary = json.loads((gdir / "COMPLETE.json").read_text())
        assert summary["generation"] == g and summary["samples"] > 0
        assert (gdir / "model" / "config.json").is_file() and (gdir / "failures.jsonl").is_file()
        ds = _load(gdir / "dataset", tmp_path)
        assert len(ds) == summary["samples"]
        meta = ds[0]["json"]
        assert meta["generation"] == g and meta["task_name"] and meta["inspired_by"]
        assert meta["conversations"][0]["role"] == "user" and meta["conversations"][1]["content"]
        if mode != "qa":
            tasks = json.loads((gdir / "tasks.json").read_text())
            assert {t["name"] for t in tasks["accepted"]} == set(ds["json"][i]["task_name"] for i in range(len(ds)))
            failure_ids = {json.loads(line)["id"] for line in (gdir / "failures.jsonl").read_text().splitlines()}
            assert set(meta["inspired_by"]) <= failure_ids  # lineage: the failures the proposer saw
    # generation 2 trains on the seed dataset plus generation 1's data
    assert json.loads((out / "gen_02" / "metrics.json").read_text())["train_datasets"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert [g["generation"] for g in metrics["generations"]] == [1, 2]
    assert all(0.0 <= g["diversity"] <= 1.0 for g in metrics["generations"])
    assert png_size(out / "evolution.png") == (800, 480)
    if mode == "task":  # the second generation's tasks differ from the first's
        t1 = json.loads((out / "gen_01" / "tasks.json").read_text())["accepted"]
        t2 = json.loads((out / "gen_02" / "tasks.json").read_text())["accepted"]
        assert not {t["name"] for t in t1} & {t["name"] for t in t2}


def test_kill_after_generation_1_resume_runs_only_generation_2(inputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    trained = []
    real_train = evolve_run.train_generation

    def counting_train(base, datasets_, out_dir, settings, seed):
        trained.append(out_dir.parent.name)
        return real_train(base, datasets_, out_dir, settings, seed)

    monkeypatch.setattr(evolve_run, "train_generation", counting_train)

    def kill(g):
        raise KeyboardInterrupt  # the process dies right after generation 1 is committed

    with EvolveScriptedServer() as server:
        cfg = tiny_config(inputs, server.url)
        with pytest.raises(KeyboardInterrupt):
            run_evolve(cfg, out, on_generation_done=kill)
        assert (out / "gen_01" / "COMPLETE.json").is_file() and not (out / "gen_02").exists()
        marker_before = (out / "gen_01" / "COMPLETE.json").stat().st_mtime_ns
        (out / "gen_02.partial" / "model").mkdir(parents=True)  # leftovers of a half-done generation 2
        (out / "gen_02.partial" / "model" / "junk.bin").write_bytes(b"x")
        proposals_before = sum(1 for r in server.requests if r.schema_name == "TaskProposal")
        result = run_evolve(cfg, out)
    assert trained == ["gen_01.partial", "gen_02.partial"]  # generation 1 was not trained again
    assert result["status"] == "complete" and result["generations_done"] == 2
    assert (out / "gen_01" / "COMPLETE.json").stat().st_mtime_ns == marker_before
    assert not (out / "gen_02" / "model" / "junk.bin").exists() and not (out / "gen_02.partial").exists()
    assert sum(1 for r in server.requests if r.schema_name == "TaskProposal") == proposals_before + 1
    # the archive was restored from generation 1, so generation 2's prompt lists its tasks
    g1 = json.loads((out / "gen_01" / "tasks.json").read_text())["accepted"]
    last_prompt = [r for r in server.requests if r.schema_name == "TaskProposal"][-1].last_user_text
    assert all(t["name"] in last_prompt for t in g1)


def test_budget_cap_stops_cleanly_and_rerun_continues(inputs, tmp_path):
    out = tmp_path / "out"
    with EvolveScriptedServer() as server:
        # generation 1 needs 13 requests (1 proposal + 2 tasks x 3 images x k=2): 16 stops inside generation 2
        result = run_evolve(tiny_config(inputs, server.url, budget=BudgetSettings(max_requests=16)), out)
        assert result["status"] == "budget_exhausted" and result["generations_done"] == 1
        assert server.count() == 16
        assert (out / "gen_01" / "COMPLETE.json").is_file() and not (out / "gen_02").exists()
        assert len(_load(out / "gen_01" / "dataset", tmp_path)) > 0
        assert json.loads((out / "metrics.json").read_text())["status"] == "budget_exhausted"
        sent = server.count()
        result = run_evolve(tiny_config(inputs, server.url, budget=BudgetSettings(max_requests=100)), out)
    assert result["status"] == "complete" and result["generations_done"] == 2
    assert server.count() - sent == 13 - 3  # the 3 answers generation 2 got before the stop come from the cache
    assert len(_load(out / "gen_02" / "dataset", tmp_path)) > 0


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_evolution_plot_is_a_labelled_chart(tmp_path):
    from ja_vila.evolve.plot import DIVERSITY_LABEL, SCORE_LABEL, evolution_figure, write_plot

    fig = evolution_figure([1, 2, 3], [0.25, 0.5, 0.625], [0.9, 0.7, 0.8])
    score_ax, diversity_ax = fig.axes
    assert score_ax.get_xlabel() == "generation" and score_ax.get_title()
    assert score_ax.get_ylabel() == SCORE_LABEL and diversity_ax.get_ylabel() == DIVERSITY_LABEL
    assert [list(line.get_ydata()) for line in score_ax.get_lines()] == [[0.25, 0.5, 0.625]]
    assert [list(line.get_ydata()) for line in diversity_ax.get_lines()] == [[0.9, 0.7, 0.8]]
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["score", "diversity"]
    fig.canvas.draw()  # ticks exist once drawn: whole generations only
    ticks = [t for t in score_ax.get_xticks() if 1 <= t <= 3]
    assert ticks == [1, 2, 3]
    assert write_plot(tmp_path / "evolution.png", [1], [0.5], [1.0]) == "matplotlib"
    assert png_size(tmp_path / "evolution.png") == (800, 480)


def test_tiny_preset_runs_as_it_is(tmp_path):
    """`ja-vila evolve --config configs/evolve/tiny.yaml --out DIR`: nothing to prepare, nothing to start."""
    from typer.testing import CliRunner

    from ja_vila.cli import app

    out = tmp_path / "evolve-out"
    result = CliRunner().invoke(app, ["evolve", "--config", "configs/evolve/tiny.yaml", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "generation 2: score" in result.output and "complete (2 generation(s))" in result.output
    for name in ("base", "seed", "val"):
        assert (out / "tiny-inputs" / name).is_dir()
    for g in (1, 2):
        assert (out / f"gen_{g:02d}" / "COMPLETE.json").is_file()
        assert len(_load(out / f"gen_{g:02d}" / "dataset", tmp_path)) > 0
    assert png_size(out / "evolution.png") == (800, 480)
    cached = {p.name for p in (out / "llm_cache").rglob("*.json")}
    again = CliRunner().invoke(app, ["evolve", "--config", "configs/evolve/tiny.yaml", "--out", str(out)])
    assert again.exit_code == 0 and "generation 2 already complete" in again.output  # finished ones are skipped ...
    assert {p.name for p in (out / "llm_cache").rglob("*.json")} == cached  # ... and nothing new was asked


def test_cli_runs_the_tiny_preset(inputs, tmp_path):
    from typer.testing import CliRunner

    from ja_vila.cli import app

    out = tmp_path / "cli-out"
    with EvolveScriptedServer() as server:
        sets = [f"base_model={inputs['base']}", f"seed_dataset={inputs['seed']}", f"eval.data={inputs['val']}",
                f"proposer.base_url={server.url}", "generations=1"]
        args = ["evolve", "--config", "configs/evolve/tiny.yaml", "--out", str(out)]
        result = CliRunner().invoke(app, [*args, *(x for s in sets for x in ("--set", s))])
        assert result.exit_code == 0, result.output
        assert "generation 1: score" in result.output and (out / "gen_01" / "COMPLETE.json").is_file()
        bad = CliRunner().invoke(app, [*args, "--set", "mode=evolutionary"])
    assert bad.exit_code == 2 and "mode" in bad.output
