"""Site-template corpus rules: images, alts and lines repeated across a site's pages."""

from __future__ import annotations

import copy

from datatrove.data import Document, Media, MediaType

from dataset_builders.pipeline.site_rules import (
    SiteAlts,
    SiteImages,
    SiteLines,
    SitePairImages,
    SiteRepetitionConfig,
    site_of,
)

CFG = SiteRepetitionConfig(min_pages=3)


def _page(i: int, site: str = "news.example.jp", extra: list[Media] | None = None, sentences=None) -> Document:
    media = [Media(id=f"own{i}", type=MediaType.IMAGE, url=f"https://{site}/img/own{i}.jpg"),
             Media(id=f"sig{i}", type=MediaType.IMAGE, url=f"https://{site}/img/signature.jpg"),
             Media(id=f"pop{i}", type=MediaType.IMAGE, url=f"https://{site}/img/popular.jpg", metadata={"teaser": True})]
    return Document(text="本文", id=f"{site}-{i}", media=media + (extra or []),
                    metadata={"url": f"https://www.{site}/article/{i}.html",
                              "sentences": sentences or [f"記事{i}の本文です。", "この記事の無断転載を禁じます。"]})


def _run(rule, docs, tasks: int = 1):
    for rank in range(tasks):
        list(rule.collect_step().run(iter(docs[rank::tasks]), rank, tasks))
    rule.merge(tasks)
    step = rule.apply_step()
    return list(step.run(iter(copy.deepcopy(docs)))), step


def test_site_of_ignores_www_and_port():
    assert site_of("https://www.Example.jp:8443/a") == site_of("http://example.jp/b") == "example.jp"
    assert site_of("not a url") == ""


def test_template_images_go_teasers_and_articles_stay(tmp_path):
    docs = [_page(i) for i in range(4)] + [_page(0, site="blog.example.com")]
    out, step = _run(SiteImages(tmp_path, CFG), docs)
    for d in out[:4]:
        assert [m.id[:3] for m in d.media] == ["own", "pop"]  # signature gone; a teaser never counts
    assert [m.id[:3] for m in out[4].media] == ["own", "sig", "pop"]  # one page of another site
    assert step.stats["media_dropped_repeated_on_site"].total == 4


def test_same_decision_for_one_and_three_tasks(tmp_path):
    docs = [_page(i) for i in range(7)]
    one, _ = _run(SiteImages(tmp_path / "one", CFG), docs, tasks=1)
    three, _ = _run(SiteImages(tmp_path / "three", CFG), docs, tasks=3)
    assert [[m.id for m in d.media] for d in one] == [[m.id for m in d.media] for d in three]


def test_below_min_pages_nothing_is_dropped(tmp_path):
    docs = [_page(i) for i in range(2)]
    out, step = _run(SiteImages(tmp_path, CFG), docs)
    assert all(len(d.media) == 3 for d in out)
    off, _ = _run(SiteImages(tmp_path / "off", SiteRepetitionConfig(enabled=False, min_pages=1)), [_page(i) for i in range(5)])
    assert all(len(d.media) == 3 for d in off)


def test_pairs_drop_repeated_alts_and_template_images(tmp_path):
    def pair(i, alt, url):
        m = Media(id=f"p{i}", type=MediaType.IMAGE, url=url)
        return Document(text=alt, id=f"p{i}-{url}", media=[m], metadata={"source_url": f"https://shop.example.jp/item/{i}"})

    pairs = [pair(i, "夏の旅キャンペーン実施中", "https://shop.example.jp/banner.jpg") for i in range(4)]
    pairs += [pair(i, f"商品{i}の写真", f"https://shop.example.jp/p{i}.jpg") for i in range(4)]
    kept, step = _run(SiteAlts(tmp_path / "alts", CFG), pairs)
    assert {d.text for d in kept} == {f"商品{i}の写真" for i in range(4)}
    assert step.stats["dropped_repeated_on_site"].total == 4
    kept, _ = _run(SitePairImages(tmp_path / "imgs", CFG), pairs)
    assert all("banner" not in d.media[0].url for d in kept) and len(kept) == 4


def test_site_lines_are_removed_and_short_documents_dropped(tmp_path):
    docs = [_page(i) for i in range(4)]
    docs.append(_page(9, sentences=["短い。", "この記事の無断転載を禁じます。"]))
    out, step = _run(SiteLines(tmp_path, CFG, min_sentences=1), docs)
    assert [d.metadata["sentences"] for d in out] == [[f"記事{i}の本文です。"] for i in range(4)] + [["短い。"]]
    assert step.stats["lines_dropped_repeated_on_site"].total == 5
    strict, step = _run(SiteLines(tmp_path / "strict", CFG, min_sentences=2), docs)
    assert strict == [] and step.stats["dropped_too_few_sentences"].total == 5
