"""`ja-vila demo`: the whole chain on the embedded sample, and the same outputs on a second run."""

from __future__ import annotations

import datasets
import pytest

from ja_vila.demo import format_summary, run_demo


@pytest.mark.slow
def test_demo_runs_the_chain_and_is_repeatable(tmp_path):
    ctx = run_demo(tmp_path / "demo", seed=0)
    summary = format_summary(ctx)
    for name in ("ja-pairs", "ja-interleaved", "ja-instruct"):
        folder = tmp_path / "demo" / "datasets" / name
        assert (folder / "README.md").is_file() and (folder / "stats.json").is_file()
        assert len(datasets.load_dataset(str(folder), split="train")) > 0
        assert str(folder) in summary
    assert (tmp_path / "demo" / "eval" / "report.json").is_file()
    for staged in ("ja-pairs", "ja-interleaved", "ja-instruct", "model"):
        assert (tmp_path / "demo" / "release" / staged / "README.md").is_file()
    assert not list((tmp_path / "demo" / "release").rglob("llm_cache"))
    assert len(list((tmp_path / "demo" / "preview").glob("*.html"))) == 3
    assert [r.stage for r in ctx.rows][:4] == ["mini-crawl", "ja-pairs", "ja-interleaved", "ja-instruct"]

    # a second run into a fresh folder gives the same datasets (fixed image port, seeded models)
    again = run_demo(tmp_path / "demo2", seed=0)
    for name in ("ja-pairs", "ja-interleaved"):
        keys = [sorted(r["__key__"] for r in datasets.load_dataset(str(c.out / "datasets" / name), split="train"))
                for c in (ctx, again)]
        assert keys[0] == keys[1]
