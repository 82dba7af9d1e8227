"""ja-pairs end to end: mini-crawl, real pages, 1 vs 3 tasks, kill and resume."""

from __future__ import annotations

import math

import pytest

from dataset_builders.config import load_config
from dataset_builders.pairs.build import PairsConfig, build_pairs
from dataset_builders.scoring.pairs import PairCut
from dataset_builders.tiny.sample.mini_crawl import build_mini_crawl
from dataset_builders.web.html_extract import HtmlExtractor
from dataset_builders.web.japanese import japanese_ratio
from ja_vila.testing.corpus import write_real_pages_corpus, write_sample_corpus
from ja_vila.testing.redirect import RedirectImagesToLoopback
from tests.build_helpers import (
    CLI,
    REPO,
    assert_funnel_consistent,
    completion_markers,
    kill_and_resume,
    load_rows,
)
from tests.process_helpers import grows_by

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"


def config(*overrides: str) -> PairsConfig:
    return load_config(PairsConfig, TINY, list(overrides))


def test_mini_crawl_end_to_end(tmp_path, image_server):
    warc = build_mini_crawl(tmp_path / "crawl", image_server.base_url)
    stats = build_pairs([warc], tmp_path / "ja-pairs", config())
    rows, _ = load_rows(tmp_path / "ja-pairs")
    funnel = assert_funnel_consistent(tmp_path / "ja-pairs", stats)
    stages = {s.name: s for s in funnel.stages}
    assert funnel.stages[0].name.endswith("(files)") and funnel.stages[0].kept == 1  # readers first
    assert stages[HtmlExtractor.name].input == 14  # the 14 sample pages
    assert stages["🗾 Japanese"].dropped == {"not_japanese": 2}
    # the campaign image's alt sits on every Japanese page of the sample site: its template, dropped before download
    assert stages["🧱 alt texts repeated across a site"].dropped["repeated_on_site"] >= 10
    scored = stages["✂️ CLIP bottom-30% cut"].input
    assert stages["✂️ CLIP bottom-30% cut"].dropped["low_clip_score"] == math.floor(0.3 * scored)
    assert len(rows) == stats["samples"] == scored - math.floor(0.3 * scored)
    for r in rows:
        assert japanese_ratio(r["txt"]) > 0 and r["txt"] == r["txt"].strip() and "  " not in r["txt"]
        assert set(r["json"]["clip_scores"]) == {"clip_a", "clip_b"} and len(r["json"]["phash"]) == 16
        assert min(r["jpg"].size) >= 150 and max(r["jpg"].size) <= 800
    # the cut keeps the best 70%: every kept pair reaches the corpus threshold the merge decided
    threshold = PairCut(tmp_path / "ja-pairs.work").load_decision().threshold
    assert min(r["json"]["clip_score"] for r in rows) >= threshold - 1e-6


def test_same_kept_set_over_one_and_three_tasks(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url, files=3)
    one = build_pairs([corpus], tmp_path / "one", config("executor.tasks=1"))
    three = build_pairs([corpus], tmp_path / "three", config("executor.tasks=3"))
    rows1, _ = load_rows(tmp_path / "one")
    rows3, _ = load_rows(tmp_path / "three")
    assert {r["__key__"]: r["txt"] for r in rows1} == {r["__key__"]: r["txt"] for r in rows3}
    # scores may differ in the last float bits (other batch compositions), never the decisions
    scores3 = {r["__key__"]: r["json"]["clip_score"] for r in rows3}
    assert all(r["json"]["clip_score"] == pytest.approx(scores3[r["__key__"]], abs=1e-5) for r in rows1)
    assert one["funnel"] == three["funnel"] and one["samples"] > 10


@pytest.mark.slow
def test_real_japanese_pages(tmp_path, image_server, realdata):
    corpus = write_real_pages_corpus(tmp_path / "corpus", realdata, files=2)
    stats = build_pairs([corpus], tmp_path / "real", config("executor.tasks=2"),
                        extra_text_steps=[RedirectImagesToLoopback(image_server.base_url)])
    rows, _ = load_rows(tmp_path / "real")
    funnel = assert_funnel_consistent(tmp_path / "real", stats)
    # real pages are mostly chrome: menus, teasers, generic alts go before download, each named
    alt_rules = next(s for s in funnel.stages if s.name == "🏷️ alt-text rules")
    assert {"navigation", "teaser", "generic"} <= set(alt_rules.dropped)
    assert len(rows) >= 5
    assert all(japanese_ratio(r["txt"]) > 0 for r in rows)
    junk = {"製品情報", "製品詳細へ", "閉じる", "TOPへ戻る", "サムネイル写真", "画像", "（クリックして拡大）"}
    assert not {r["txt"] for r in rows} & junk and not any(r["txt"].endswith(" 画像") for r in rows)
    assert len({r["json"]["source_url"].split("/")[2] for r in rows}) >= 3  # pairs from several real sites


@pytest.mark.slow
def test_killed_build_resumes_to_the_uninterrupted_result(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url, files=3)
    build_pairs([corpus], tmp_path / "reference", config("executor.tasks=3"))
    args = ["build", "pairs", "--input", str(corpus), "--output", str(tmp_path / "killed"),
            "--config", str(TINY), "--tasks", "3"]
    work = tmp_path / "killed.work"
    images = lambda: sum(image_server.hits.values())  # noqa: E731
    kills = [lambda: grows_by(images, 3),  # first run: a few images into the download stage
             lambda: grows_by(lambda: completion_markers(work), 1),  # then: right after one more task ends
             lambda: grows_by(lambda: completion_markers(work), 2)]
    assert kill_and_resume(CLI + args, kills) >= 2
    ref, _ = load_rows(tmp_path / "reference")
    got, _ = load_rows(tmp_path / "killed")
    assert [(r["__key__"], r["txt"], r["json"]) for r in got] == [(r["__key__"], r["txt"], r["json"]) for r in ref]
