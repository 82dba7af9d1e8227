"""Evaluation as the paper ran it: repeated judge runs (mean and spread, each run cached apart), the
``paper`` protocol preset, per-task answer lengths, and numbers from fixtures or a scripted judge
marked next to them. The scripted judge on loopback counts every call."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dataset_builders.llm import LLMConfig, LLMRequest, Message
from dataset_builders.tiny.models import save_tiny_llava
from eval.demo import build_demo_fixtures
from eval.evaluate import EvalConfig, evaluate
from eval.metrics import judge
from eval.metrics.judge import JudgeScore, JudgeSettings
from eval.protocol import get_protocol, judge_runs_for
from eval.report import to_markdown
from eval.tasks import get_task
from ja_vila.cli import app
from ja_vila.servers.openai_server import ScriptedOpenAIServer

JUDGED = ("heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500")
SCHEMAS = {"heron_bench": "HeronReview", "ja_vlm_bench_in_the_wild": "JudgeScore", "ja_vg_vqa_500": "JudgeScore"}


class StubRunner:
    """Answers every item with a fixed non-empty text (so every answer goes to the judge) and records
    the answer length each task asked for."""

    format = "stub"

    def __init__(self) -> None:
        self.max_new_tokens: dict[str, int] = {}

    def generate(self, items, max_new_tokens, label=""):
        self.max_new_tokens[label] = max_new_tokens
        return [f"答え {it.id}" for it in items]


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    return build_demo_fixtures(tmp_path_factory.mktemp("fixtures"))


def _config(fixtures, out: Path, url: str, runs: dict[str, int]) -> EvalConfig:
    return EvalConfig(model="stub-model", out_dir=out, tasks=JUDGED, data={t: str(fixtures[t]) for t in JUDGED},
                      judge=JudgeSettings(model="judge-x", base_url=url, max_retries=0, timeout_s=10, scripted=True),
                      judge_runs=runs)


def _calls(server) -> Counter:
    return Counter(r.schema_name for r in server.requests)


def test_judge_runs_call_the_judge_n_times_per_item_and_a_rerun_costs_nothing(fixtures, tmp_path):
    runs = {"heron_bench": 5, "ja_vlm_bench_in_the_wild": 5}  # the paper's; ja_vg_vqa_500 once
    n_items = {t: len(get_task(t).load(fixtures[t])) for t in JUDGED}
    with ScriptedOpenAIServer() as server:
        runner = StubRunner()
        report = evaluate(_config(fixtures, tmp_path / "out", server.url, runs), runner=runner)
        calls = _calls(server)
        assert calls["HeronReview"] == 5 * n_items["heron_bench"]
        assert calls["JudgeScore"] == 5 * n_items["ja_vlm_bench_in_the_wild"] + n_items["ja_vg_vqa_500"]
        # a re-run into the same folder: every answer of every run comes from the cache
        again = evaluate(_config(fixtures, tmp_path / "out", server.url, runs), runner=StubRunner())
        assert server.count() == sum(calls.values())
    assert [m["value"] for t in again["tasks"].values() for m in t["metrics"]] == \
        [m["value"] for t in report["tasks"].values() for m in t["metrics"]]
    # each task's answer length is the task's own (short for VQA-style tasks, long for Heron)
    lengths = runner.max_new_tokens
    assert lengths["ja_vg_vqa_500"] < lengths["ja_vlm_bench_in_the_wild"] < lengths["heron_bench"]
    assert lengths == {t: get_task(t).max_new_tokens for t in JUDGED}
    # mean and spread of the 5 runs in the report, per-item scores per run in the predictions
    assert report["judge"]["runs"] == {"heron_bench": 5, "ja_vlm_bench_in_the_wild": 5, "ja_vg_vqa_500": 1}
    heron_metric = report["tasks"]["heron_bench"]["metrics"][0]
    spread = heron_metric["details"]["runs"]
    assert spread["n"] == 5 and len(spread["values"]) == 5
    assert heron_metric["value"] == pytest.approx(sum(spread["values"]) / 5)
    assert spread["min"] <= heron_metric["value"] <= spread["max"] and spread["std"] >= 0
    wild = report["tasks"]["ja_vlm_bench_in_the_wild"]["metrics"][1]
    assert wild["details"]["runs"]["n"] == 5 and wild["details"]["n_scored"] == 5 * n_items["ja_vlm_bench_in_the_wild"]
    assert "runs" not in report["tasks"]["ja_vg_vqa_500"]["metrics"][1]["details"]
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions" / "ja_vlm_bench_in_the_wild.jsonl")
            .read_text(encoding="utf-8").splitlines()]
    assert all(len(r["scores"]["llm_judge"]) == 5 for r in rows)
    md = to_markdown(report)
    assert f"± {spread['std']:.2f} (mean of 5 judge runs" in md and "Judge runs: heron_bench 5" in md
    # numbers from fixtures and a scripted judge say so next to the number
    judged_rows = [r for r in md.splitlines() if r.startswith(("| LLM judge", "| Heron-Bench"))]
    assert len(judged_rows) == 3 and all("⚠ not a benchmark result" in r and "scripted judge" in r for r in judged_rows)


def test_more_runs_later_ask_only_the_new_runs(fixtures, tmp_path):
    with ScriptedOpenAIServer() as server:
        evaluate(_config(fixtures, tmp_path / "out", server.url, {"heron_bench": 2}), runner=StubRunner())
        first = _calls(server)["HeronReview"]
        evaluate(_config(fixtures, tmp_path / "out", server.url, {"heron_bench": 3}), runner=StubRunner())
        n = len(get_task("heron_bench").load(fixtures["heron_bench"]))
        assert first == 2 * n and _calls(server)["HeronReview"] == 3 * n  # runs 0 and 1 came from the cache


def test_each_run_is_its_own_cache_entry_and_run_0_keeps_its_key():
    config = LLMConfig(provider="openai_compatible", base_url="http://127.0.0.1:9/v1", model="judge-x")
    messages = [Message.text("user", "q")]
    keys = [LLMRequest(messages, JudgeScore, run=k).cache_key(config) for k in range(5)]
    assert len(set(keys)) == 5
    assert keys[0] == LLMRequest(messages, JudgeScore).cache_key(config)  # caches written before runs existed
    assert LLMRequest(messages, JudgeScore, label="other", run=1).cache_key(config) == keys[1]


def test_summary_of_runs_is_the_mean_with_its_spread():
    runs = judge.JudgeRuns([judge.JudgeRun([5, 3]), judge.JudgeRun([4, 4]), judge.JudgeRun([1, None])], 6, 0)
    summary = judge.summarize_runs(runs)
    assert summary["value"] == pytest.approx((4 + 4 + 1) / 3)
    assert summary["runs"]["values"] == [4, 4, 1] and summary["runs"]["min"] == 1 and summary["runs"]["max"] == 4
    assert summary["runs"]["std"] == pytest.approx(2 ** 0.5)
    assert summary["n_failed"] == 1 and summary["n_scored"] == 5


def test_paper_protocol_preset():
    paper = get_protocol("paper")
    assert paper.judge_model == "gpt-4o-2024-05-13"
    tasks = ["heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500", "textvqa"]
    assert judge_runs_for(tasks, paper, None) == {"heron_bench": 5, "ja_vlm_bench_in_the_wild": 5,
                                                  "ja_vg_vqa_500": 1, "textvqa": 1}
    assert judge_runs_for(tasks, paper, 2) == dict.fromkeys(tasks, 2)  # an explicit --judge-runs wins
    with pytest.raises(ValueError, match="unknown"):
        get_protocol("papers")
    settings = JudgeSettings(model=paper.judge_model).llm_config()
    assert (settings.temperature, settings.seed) == (0.0, 0)


def test_cli_protocol_paper_uses_the_papers_judge_and_runs(fixtures, tmp_path):
    model = save_tiny_llava(tmp_path / "tiny")
    out = tmp_path / "out"
    data = [a for t in ("heron_bench", "textvqa") for a in ("--data", f"{t}={fixtures[t]}")]
    with ScriptedOpenAIServer() as server:
        result = CliRunner().invoke(app, ["eval", "--model", str(model), "--tasks", "heron_bench,textvqa", *data,
                                          "--protocol", "paper", "--judge-base-url", server.url, "--limit", "2",
                                          "--max-new-tokens", "3", "--device", "cpu", "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert _calls(server)["HeronReview"] == 5 * 2
        assert {r.body["model"] for r in server.requests} == {"gpt-4o-2024-05-13"}
        assert {(r.body["temperature"], r.body["seed"]) for r in server.requests} == {(0.0, 0)}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["protocol"] == "paper" and report["judge"]["runs"] == {"heron_bench": 5, "textvqa": 1}
    assert "Protocol: `paper`" in result.output
    bad = CliRunner().invoke(app, ["eval", "--model", str(model), "--tasks", "textvqa", "--judge-runs", "3",
                                   "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "--judge-runs needs a judge" in bad.output
