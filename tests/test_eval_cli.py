"""`ja-vila eval` end to end on a tiny model: local benchmark folders built from the real samples,
the scripted judge on loopback, and the report in its three shapes (JSON, Markdown, model-index);
plus the demo entry point on the built-in fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dataset_builders.tiny.models import save_tiny_llava
from eval.metrics import rouge_ja, vqa_accuracy
from eval.metrics.heron import HERON_PROMPT_VERSION
from eval.metrics.judge import JUDGE_PROMPT_VERSION
from eval.report import model_index
from ja_vila.cli import app
from ja_vila.servers.openai_server import ScriptedOpenAIServer
from ja_vila.testing.eval_fixtures import build_realdata_benchmarks

TASKS = "heron_bench,ja_vlm_bench_in_the_wild,ja_vg_vqa_500,textvqa"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_llava(tmp_path_factory.mktemp("model") / "tiny-llava")


@pytest.fixture(scope="module")
def bench(realdata, tmp_path_factory):
    return build_realdata_benchmarks(realdata, tmp_path_factory.mktemp("bench"))


def _data_args(bench) -> list[str]:
    args = []
    for name, folder in bench.items():
        args += ["--data", f"{name}={folder}"]
    return args


def _predictions(out: Path, task: str) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()]


def test_eval_end_to_end_with_judge(tiny_model, bench, tmp_path):
    out = tmp_path / "eval-out"
    args = ["eval", "--model", str(tiny_model), "--tasks", TASKS, *_data_args(bench), "--judge", "judge-x",
            "--limit", "4", "--max-new-tokens", "6", "--batch-size", "2", "--device", "cpu", "--out", str(out)]
    with ScriptedOpenAIServer() as server:
        result = CliRunner().invoke(app, [*args, "--judge-base-url", server.url])
        assert result.exit_code == 0, result.output
        asked = server.count()
        # a re-run scores from the judge cache: nothing new is asked
        again = CliRunner().invoke(app, [*args, "--judge-base-url", server.url])
        assert again.exit_code == 0, again.output
        assert server.count() == asked

    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert list(report["tasks"]) == TASKS.split(",")
    assert report["judge"]["model"] == "judge-x" and report["judge"]["temperature"] == 0.0
    assert report["generation"]["prompt_format"] == "llmjp_v3" and report["generation"]["do_sample"] is False
    for task in report["tasks"].values():
        assert task["n_items"] == 4 and task["dataset"]["source"].startswith("local folder")

    # Heron: the scripted judge rates both answers 1, so every category is at 100 unless the answer was empty
    heron_metric = report["tasks"]["heron_bench"]["metrics"][0]
    assert heron_metric["judge_model"] == "judge-x" and heron_metric["judge_prompt_version"] == HERON_PROMPT_VERSION
    heron_preds = _predictions(out, "heron_bench")
    assert [p["scores"]["heron_relative"] for p in heron_preds] == [
        [1.0, 1.0 if p["prediction"].strip() else 0.0] for p in heron_preds]
    assert heron_metric["details"]["parse_error_count"] == 0

    # ROUGE-L and the judge mean are what the per-item predictions say
    for name in ("ja_vlm_bench_in_the_wild", "ja_vg_vqa_500"):
        preds = _predictions(out, name)
        rougel, judged = report["tasks"][name]["metrics"]
        expected = rouge_ja.mean([rouge_ja.rouge_l(p["reference"], p["prediction"]) for p in preds])
        assert rougel["value"] == pytest.approx(expected) and rougel["judge_model"] is None
        assert judged["value"] == pytest.approx(sum(1 if p["prediction"].strip() else 0 for p in preds) / len(preds))
        assert judged["judge_prompt_version"] == JUDGE_PROMPT_VERSION and judged["details"]["n_failed"] == 0
    tv = _predictions(out, "textvqa")
    assert all(p["prompt"].endswith("Answer the question using a single word or phrase.") for p in tv)
    assert report["tasks"]["textvqa"]["metrics"][0]["value"] == pytest.approx(
        100 * sum(vqa_accuracy.vqa_accuracy(p["prediction"], p["answers"]) for p in tv) / len(tv))

    # Markdown: a table per task, the judge and prompt version beside every judge score
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md.count("| metric | score | judge | judge prompt | details |") == 4
    judge_rows = [line for line in md.splitlines() if line.startswith(("| LLM judge", "| Heron-Bench"))]
    assert len(judge_rows) == 3
    assert all("judge-x" in row and "ja-vila-" in row for row in judge_rows)
    assert "| metric |" in result.output  # the table is printed too

    # fixture data and --limit: every number is marked, and none is a model-index result
    assert all("⚠ not a benchmark result: fixture data (test fixture" in row and "--limit 4" in row
               for row in md.splitlines() if row.startswith(("| LLM judge", "| Heron-Bench", "| ROUGE-L", "| VQA")))
    card = yaml.safe_load((out / "model-index.yaml").read_text(encoding="utf-8"))
    assert card["model-index"] == report["model-index"] and card["model-index"][0]["results"] == []
    # model-index: what a model card's front matter takes (the numbers only when forced, caveats in args)
    entry = model_index(report, include_caveated=True)[0]
    assert entry["name"] == "tiny-llava"
    results = {r["dataset"]["type"]: r for r in entry["results"]}
    assert set(results) == {"turing-motors/Japanese-Heron-Bench", "SakanaAI/JA-VLM-Bench-In-the-Wild",
                            "SakanaAI/JA-VG-VQA-500", "lmms-lab/textvqa"}
    heron_entry = results["turing-motors/Japanese-Heron-Bench"]["metrics"][0]
    assert heron_entry["type"] == "heron_bench_relative"
    assert heron_entry["args"] == {"judge_model": "judge-x", "judge_prompt_version": HERON_PROMPT_VERSION}
    assert results["SakanaAI/JA-VG-VQA-500"]["dataset"]["args"]["n_items"] == 4  # a subset is marked as such
    assert "--limit 4" in results["SakanaAI/JA-VG-VQA-500"]["dataset"]["args"]["caveats"]


def test_eval_without_judge_skips_judge_scores(tiny_model, bench, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "--model", str(tiny_model), "--tasks", "ja_vlm_bench_in_the_wild",
                                      "--data", f"ja_vlm_bench_in_the_wild={bench['ja_vlm_bench_in_the_wild']}",
                                      "--limit", "2", "--max-new-tokens", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    rougel, judged = report["tasks"]["ja_vlm_bench_in_the_wild"]["metrics"]
    assert rougel["value"] is not None
    assert judged["value"] is None and "no judge" in judged["skipped"]
    assert report["judge"] is None
    assert [m["type"] for m in model_index(report, include_caveated=True)[0]["results"][0]["metrics"]] == ["rougeL"]
    assert "skipped: no judge" in (out / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("extra, message", [
    (["--tasks", "heron_bench,mmmu"], "unknown task 'mmmu'"),
    (["--data", "heron_bench"], "expected TASK=FOLDER_OR_HUB_ID"),
    (["--data", "textvqa=/x"], "not evaluated"),
    (["--judge-base-url", "http://127.0.0.1:9/v1"], "needs --judge"),
    (["--judge", "gpt-4o-2024-05-13"], "no API key"),
])
def test_eval_errors_name_the_fix(tmp_path, monkeypatch, extra, message):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # the model does not exist: each error must come before any model loading
    args = ["eval", "--model", str(tmp_path / "no-model"), "--tasks", "heron_bench", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(app, [*args, *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_run_demo_eval_with_and_without_judge(tiny_model, tmp_path):
    from eval.demo import DEMO_JUDGE_MODEL, run_demo_eval

    with ScriptedOpenAIServer() as server:
        report = run_demo_eval(tiny_model, tmp_path / "with", server.url)
        assert server.count() > 0
    assert (tmp_path / "with" / "report.json").is_file()
    on_disk = json.loads((tmp_path / "with" / "report.json").read_text(encoding="utf-8"))
    assert set(on_disk["tasks"]) == {"heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500", "textvqa"}
    assert all(t["n_items"] >= 4 for t in on_disk["tasks"].values())
    assert DEMO_JUDGE_MODEL in report["markdown"] and HERON_PROMPT_VERSION in report["markdown"]
    assert report["markdown"].count("| metric |") == 4
    heron_value = on_disk["tasks"]["heron_bench"]["metrics"][0]["value"]
    assert heron_value is not None and 0 <= heron_value <= 100
    # the demo's numbers say what they are, next to each of them, and none is a model-index result
    assert on_disk["judge"]["scripted"] is True and on_disk["model-index"][0]["results"] == []
    scored = [row for row in report["markdown"].splitlines() if row.startswith("| ") and not row.startswith("| metric")]
    assert scored and all("⚠ not a benchmark result: fixture data (demo fixture" in row for row in scored)
    assert sum("scripted judge (not a model)" in row for row in scored) == 3  # the three judge scores
    assert "a scripted stand-in, not a model" in report["markdown"]

    report = run_demo_eval(tiny_model, tmp_path / "without", None)
    assert report["judge"] is None and "skipped: no judge" in report["markdown"]
