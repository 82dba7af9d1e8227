"""A build where nothing survives still ends with a valid, finished, empty dataset folder; everything
that reads one says plainly that it is empty."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pytest
from typer.testing import CliRunner

from dataset_builders.config import load_config
from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
from dataset_builders.scoring.combine import decide_pair_cut
from ja_vila.cli import app
from model_cards.preview.page import render_preview
from model_cards.release.dataset import release_dataset
from model_cards.release.plan import ReleaseError
from tests.build_helpers import REPO, assert_funnel_consistent
from training.data.shards import expand_shards


def doomed_corpus(folder, server) -> None:
    """One Japanese page, long enough for the interleaved rules, whose images with alt texts all 404."""
    sentences = "".join(f"<p>これは{i}番目の日本語の文章です。</p>" for i in range(15))
    images = "".join(f'<img src="{server.url(f"/bad/status/404/x{i}.jpg")}" alt="猫の写真{i}">' for i in range(3))
    folder.mkdir()
    record = {"url": "https://example.jp/a.html", "html": f"<html><body><article>{sentences}{images}</article></body></html>"}
    (folder / "part-000.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")


def check_empty_folder(folder, stats) -> None:
    assert stats["samples"] == 0 and stats["shards"] == 0
    funnel = assert_funnel_consistent(folder, stats)
    assert any(s.dropped for s in funnel.stages)  # the funnel says where the input went
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "This dataset is empty" in card and "dataset_info:" in card
    with pytest.raises(datasets.exceptions.DataFilesNotFoundError):  # `datasets` has no empty WebDataset
        datasets.load_dataset(str(folder), split="train")
    with pytest.raises(ReleaseError, match="empty"):
        release_dataset(folder, "org/empty", license="cc-by-4.0", contact="takedown@example.org", dry_run=True)
    with pytest.raises(FileNotFoundError, match="empty"):
        expand_shards(folder)
    assert "No samples in this folder." in render_preview(folder)  # the preview still shows the funnel


def test_build_pairs_cli_with_no_surviving_pair_writes_an_empty_dataset(tmp_path, image_server):
    doomed_corpus(tmp_path / "corpus", image_server)
    out = tmp_path / "ja-pairs"
    result = CliRunner().invoke(app, ["build", "pairs", "--input", str(tmp_path / "corpus"), "--output", str(out),
                                      "--config", str(REPO / "configs/data/pairs-tiny.yaml")])
    assert result.exit_code == 0, result.output
    assert "the dataset is empty" in result.output
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert {s["stage"]: s for s in stats["funnel"]}["⬇️ download images (images)"]["dropped"] == {"http_404": 3}
    check_empty_folder(out, stats)
    assert json.loads((tmp_path / "ja-pairs.work" / "rules" / "pair_cut" / "decision.json").read_text())["decision"]["n_scored"] == 0


def test_build_interleaved_with_no_surviving_document_writes_an_empty_dataset(tmp_path, image_server):
    doomed_corpus(tmp_path / "corpus", image_server)
    cfg = load_config(InterleavedConfig, REPO / "configs/data/interleaved-tiny.yaml")
    stats = build_interleaved([tmp_path / "corpus"], tmp_path / "ja-interleaved", cfg)
    assert {s["stage"]: s for s in stats["funnel"]}["📏 interleaved document rules"]["dropped"] == {"too_few_images": 1}
    check_empty_folder(tmp_path / "ja-interleaved", stats)


@pytest.mark.parametrize("names", [[], ["clip_a", "clip_b"]])
def test_pair_cut_of_no_scores_keeps_nothing_to_compare(names):
    d = decide_pair_cut(np.empty((0, len(names))), names)
    assert (d.n_scored, d.threshold, d.names) == (0, None, tuple(names))
    assert decide_pair_cut([], names).n_scored == 0
