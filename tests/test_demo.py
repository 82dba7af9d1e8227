"""`ja-vila demo`: the whole chain on the embedded sample — every capability, a short console, details
in log files, releases that tell the truth — and the same outputs on a second run."""

from __future__ import annotations

import json
import re

import datasets
import pytest
import torch
from huggingface_hub import DatasetCard, ModelCard

from ja_vila.demo import STAGES, format_summary, run_demo
from model_cards.card_checks import check_card


@pytest.mark.slow
def test_demo_runs_the_chain_and_is_repeatable(tmp_path, capfd):
    console: list[str] = []
    ctx = run_demo(tmp_path / "demo", seed=0, progress=console.append)
    console += format_summary(ctx).splitlines()
    out = tmp_path / "demo"
    # the console: a line per stage, each build's funnel in short, the summary — under 80 lines;
    # datatrove's stats, the Trainer's logs and the libraries' bars went to the stage logs
    leaked = capfd.readouterr()
    lines = console + leaked.out.splitlines() + leaked.err.splitlines()
    assert len(lines) < 80, "\n".join(lines)
    assert sum(line.startswith("[") for line in console) == len(STAGES)
    assert not any("Stats" in line or "PIPELINE" in line or "Loading weights" in line for line in lines)
    assert "📉📉📉 Stats" in (out / "work" / "pairs.log").read_text(encoding="utf-8")
    assert "'loss'" in (out / "work" / "train.log").read_text(encoding="utf-8")
    step1 = next(line for line in console if line.strip().startswith("step1: "))  # what step 1 trained on
    assert int(re.search(r"ja-interleaved (\d+) samples", step1).group(1)) > 0 and "ja-pairs" in step1
    assert any("CLIP bottom-30% cut" in line for line in console)  # the funnel, in short
    assert all("⚠ not a benchmark result" in line for line in console if "·" in line)  # evaluation numbers

    summary = format_summary(ctx)
    for name in ("ja-pairs", "ja-interleaved", "ja-instruct"):
        folder = out / "datasets" / name
        assert (folder / "README.md").is_file() and (folder / "stats.json").is_file()
        assert len(datasets.load_dataset(str(folder), split="train")) > 0
        assert str(folder) in summary
    assert (out / "eval" / "report.json").is_file()
    assert (out / "convert" / "transformers" / "config.json").is_file()  # convert-vila ran
    assert (out / "convert" / "vila-layout" / "mm_projector").is_dir()
    assert (out / "evolve" / "gen_01" / "COMPLETE.json").is_file()  # evolve ran
    assert (out / "evolve" / "evolution.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((out / "preview").glob("*.html"))) == 3
    assert [r.stage for r in ctx.rows][:4] == ["mini-crawl", "ja-pairs", "ja-interleaved", "ja-instruct"]

    # the release dry-run: no local path anywhere, cards the Hub accepts, a card that tells what happened
    release = out / "release"
    root = str(out.resolve()).encode()
    staged = [p for p in release.rglob("*") if p.is_file()]
    assert staged and not any(root in p.read_bytes() for p in staged), [p for p in staged if root in p.read_bytes()]
    assert not list(release.rglob("llm_cache"))
    for name in ("ja-pairs", "ja-interleaved", "ja-instruct"):
        check_card(DatasetCard.load(release / name / "README.md", ignore_metadata_errors=False), "dataset")
    card = ModelCard.load(release / "model" / "README.md", ignore_metadata_errors=False)
    check_card(card, "model")
    assert "model-index" not in card.data.to_dict()  # fixture data and a scripted judge: no benchmark results
    args = torch.load(out / "models" / "step2" / "training_args.bin", weights_only=False)
    assert f"| learning rate | {args.learning_rate:g} |" in card.text
    assert f"| optimizer steps | {args.max_steps} (`max_steps`) |" in card.text
    assert "tiny model" in card.text and "LLM-jp-3 VILA architecture" not in card.text
    report = json.loads((out / "eval" / "report.json").read_text(encoding="utf-8"))
    assert report["judge"]["scripted"] and report["model-index"][0]["results"] == []

    # a second run into a fresh folder gives the same datasets (fixed image port, seeded models)
    again = run_demo(tmp_path / "demo2", seed=0)
    for name in ("ja-pairs", "ja-interleaved"):
        keys = [sorted(r["__key__"] for r in datasets.load_dataset(str(c.out / "datasets" / name), split="train"))
                for c in (ctx, again)]
        assert keys[0] == keys[1]
