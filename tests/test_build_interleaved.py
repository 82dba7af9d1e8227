"""ja-interleaved end to end: mini-crawl, real pages, 1 vs 3 tasks, kill and resume."""

from __future__ import annotations

import pytest

from dataset_builders.config import load_config
from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
from dataset_builders.tiny.sample import load_documents
from dataset_builders.tiny.sample.mini_crawl import build_mini_crawl, expected_images
from dataset_builders.web.html_extract import HtmlExtractor
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

TINY = REPO / "configs" / "data" / "interleaved-tiny.yaml"


def config(*overrides: str) -> InterleavedConfig:
    return load_config(InterleavedConfig, TINY, list(overrides))


def page_order(base_url: str) -> dict[str, list[str]]:
    """For each sample page, its image URLs in page order."""
    from dataset_builders.tiny.sample.mini_crawl import page_url

    return {page_url(doc): [url for url, _ in expected_images(doc, base_url)] for doc in load_documents()}


def test_mini_crawl_end_to_end_images_in_document_order(tmp_path, image_server):
    warc = build_mini_crawl(tmp_path / "crawl", image_server.base_url)
    stats = build_interleaved([warc], tmp_path / "ja-interleaved", config())
    rows, streamed = load_rows(tmp_path / "ja-interleaved")
    funnel = assert_funnel_consistent(tmp_path / "ja-interleaved", stats)
    extracted = next(s for s in funnel.stages if s.name == HtmlExtractor.name)
    assert extracted.input == 14 and len(rows) >= 5
    order = page_order(image_server.base_url)
    for row, srow in zip(rows, streamed, strict=True):
        meta = row["json"]
        n = len(meta["image_urls"])
        assert 2 <= n <= 5 and 10 <= len(meta["texts"]) <= 100
        slots = [row[f"{k}.jpg"] for k in range(5)]
        assert all(img is not None for img in slots[:n]) and slots[n:] == [None] * (5 - n)
        assert [s is not None for s in slots] == [srow[f"{k}.jpg"] is not None for k in range(5)]
        # each image follows its assigned sentence; positions never go back
        assert meta["image_positions"] == sorted(meta["image_positions"])
        assert all(0 <= p < len(meta["texts"]) for p in meta["image_positions"])
        # with the tiny CLIP the assignment is arbitrary, but images keep page order within a sentence
        page = order[meta["source_url"]]
        assert all(url in page for url in meta["image_urls"])


def test_paper_thresholds_drop_everything_a_random_clip_scores_low(tmp_path, image_server):
    """With the paper's 0.20 similarity threshold a random CLIP's images fail: counted, not fatal."""
    warc = build_mini_crawl(tmp_path / "crawl", image_server.base_url)
    stats = build_interleaved([warc], tmp_path / "strict", config("rules.min_similarity=0.2"))
    funnel = assert_funnel_consistent(tmp_path / "strict", stats)
    stages = {s.name: s for s in funnel.stages}
    assert stages["🧩 assign images to sentences (images)"].dropped["low_similarity"] > 0
    assert stats["samples"] < 11  # fewer documents survive than with the threshold off


def test_same_kept_set_over_one_and_three_tasks(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url, files=3)
    one = build_interleaved([corpus], tmp_path / "one", config("executor.tasks=1"))
    three = build_interleaved([corpus], tmp_path / "three", config("executor.tasks=3"))
    rows1, _ = load_rows(tmp_path / "one")
    rows3, _ = load_rows(tmp_path / "three")

    def content(rows):
        return {r["__key__"]: (r["json"]["texts"], r["json"]["image_positions"], r["json"]["image_urls"]) for r in rows}

    assert content(rows1) == content(rows3) and len(rows1) >= 5
    assert one["funnel"] == three["funnel"]


@pytest.mark.slow
def test_real_japanese_pages(tmp_path, image_server, realdata):
    corpus = write_real_pages_corpus(tmp_path / "corpus", realdata, files=2)
    clueweb = realdata / "warc" / "resiliparse_clueweb09-ja_quirk.warc.gz"  # real EUC-JP shop pages
    stats = build_interleaved([corpus, clueweb], tmp_path / "real", config("executor.tasks=2", "rules.over_max_images=keep_top"),
                              extra_text_steps=[RedirectImagesToLoopback(image_server.base_url)])
    funnel = assert_funnel_consistent(tmp_path / "real", stats)
    assert {s.name for s in funnel.stages} >= {"☣️ harmful content (HojiChar)", "📏 sentence count"}
    extracted = next(s for s in funnel.stages if s.name == HtmlExtractor.name)
    assert extracted.input == 29 + 29  # 29 real pages + 29 ClueWeb pages
    rows, _ = load_rows(tmp_path / "real")
    assert len(rows) >= 1
    assert all(2 <= len(r["json"]["image_urls"]) <= 5 for r in rows)


@pytest.mark.slow
def test_killed_build_resumes_to_the_uninterrupted_result(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url, files=3)
    build_interleaved([corpus], tmp_path / "reference", config("executor.tasks=3"))
    args = ["build", "interleaved", "--input", str(corpus), "--output", str(tmp_path / "killed"),
            "--config", str(TINY), "--tasks", "3"]
    work = tmp_path / "killed.work"
    images = lambda: sum(image_server.hits.values())  # noqa: E731
    kills = [lambda: grows_by(images, 3),  # first run: a few images into the download stage
             lambda: grows_by(lambda: completion_markers(work), 1),  # then: right after one more task ends
             lambda: grows_by(lambda: completion_markers(work), 2)]
    assert kill_and_resume(CLI + args, kills) >= 2
    ref, _ = load_rows(tmp_path / "reference")
    got, _ = load_rows(tmp_path / "killed")
    assert [(r["__key__"], r["json"]) for r in got] == [(r["__key__"], r["json"]) for r in ref]
