"""The embedded sample and its mini-crawl: documents are sane, the WARC is deterministic, and every page
and image round-trips through the WARC reader and the extractor."""

from __future__ import annotations

import re

from dataset_builders.tiny.sample import load_documents
from dataset_builders.tiny.sample.mini_crawl import (
    WARC_NAME,
    build_mini_crawl,
    expected_images,
    page_url,
    page_urls,
)
from dataset_builders.web import HtmlExtractor, JapaneseFilter, WarcHtmlReader, is_japanese

BASE = "http://127.0.0.1:8765"


def test_sample_documents_are_varied_and_well_formed():
    docs = load_documents()
    assert 12 <= len(docs) <= 16
    assert len({d["slug"] for d in docs}) == len(docs)
    langs = [d["lang"] for d in docs]
    assert langs.count("en") == 1 and langs.count("zh") == 1
    names = set()
    for d in docs:
        paras = [b["p"] for b in d["blocks"] if "p" in b]
        images = [b["img"] for b in d["blocks"] if "img" in b]
        assert 3 <= len(images) <= 6, d["slug"]
        assert d["title"]
        if d["lang"] == "ja":
            sentences = sum(len(re.findall(r"[。！？]", p)) for p in paras)
            assert 12 <= sentences <= 30, (d["slug"], sentences)
            assert all(is_japanese(p) for p in paras), d["slug"]
        names.update(i["name"] for i in images)
    alts = [b["img"]["alt"] for d in docs for b in d["blocks"] if "img" in b]
    markups = {b["img"].get("markup", "src") for d in docs for b in d["blocks"] if "img" in b}
    assert {"figure", "lazy", "srcset", "relative", "root_relative", "src"} <= markups
    assert any(re.fullmatch(r"(IMG_|DSC)\d+(\.jpg)?", a) for a in alts)  # file-name alts
    assert "画像" in alts and "写真" in alts and "" in alts
    assert any(b["img"].get("ext") == "gif" for d in docs for b in d["blocks"] if "img" in b)
    sizes = [(b["img"]["w"], b["img"]["h"]) for d in docs for b in d["blocks"] if "img" in b]
    assert any(min(s) < 150 for s in sizes) and any(max(s) / min(s) > 2 for s in sizes)


def test_mini_crawl_is_deterministic(tmp_path):
    a = build_mini_crawl(tmp_path / "a", BASE)
    b = build_mini_crawl(tmp_path / "b", BASE)
    assert a.name == WARC_NAME and a.read_bytes() == b.read_bytes()
    assert build_mini_crawl(tmp_path / "c", "http://127.0.0.1:9999").read_bytes() != a.read_bytes()
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_mini_crawl_round_trips_every_document_and_image(tmp_path):
    warc = build_mini_crawl(tmp_path, BASE)
    reader, ex, jf = WarcHtmlReader(warc.parent), HtmlExtractor(), JapaneseFilter()
    extracted = list(ex(reader()))
    by_url = {d.metadata["url"]: d for d in extracted}
    assert sorted(by_url) == sorted(page_urls())
    rs = {k: v.total for k, v in reader.stats.stats.items()}
    assert rs["skipped_not_html"] == 1 and rs["skipped_request"] == len(extracted) + 1  # robots.txt
    for doc in load_documents():
        got = by_url[page_url(doc)]
        assert [(m.url, m.alt) for m in got.media] == expected_images(doc, BASE), doc["slug"]
        for block in doc["blocks"]:
            if "p" in block:
                assert block["p"] in got.text, doc["slug"]
        offsets = [m.metadata["text_offset"] for m in got.media]
        assert offsets == sorted(offsets), doc["slug"]  # page order follows text order
        assert got.metadata["title"].startswith(doc["title"])
        assert "日々のたより" not in got.text.split("\n", 1)[0]  # header boilerplate not in the main text
    kept = list(jf(iter(extracted)))
    assert {d.metadata["url"] for d in extracted} - {d.metadata["url"] for d in kept} == {
        page_url(d) for d in load_documents() if d["lang"] != "ja"}
    sjis = next(d for d in extracted if d.metadata["encoding"] == "cp932")
    assert "青春18きっぷ" in sjis.text
    es = {k: v.total for k, v in ex.stats.stats.items()}
    # page chrome goes before any URL rule: the site logo (header), the share button, the footer pixel
    assert es["media_dropped_chrome_header"] == es["media_dropped_chrome_share"] == len(extracted)
    assert es["media_dropped_chrome_footer"] == len(extracted)


def test_mini_crawl_images_are_served_by_the_loopback_server(tmp_path):
    import io
    import urllib.request

    from PIL import Image

    from ja_vila.servers.image_server import ImageServer

    with ImageServer() as server:
        warc = build_mini_crawl(tmp_path, server.base_url)
        docs = list(HtmlExtractor()(WarcHtmlReader(warc.parent)()))
        media = {m.url: m for d in docs for m in d.media}
        urls = set(media)
        assert len(urls) > 40
        n_declared = 0
        for url in sorted(urls):
            with urllib.request.urlopen(url, timeout=10) as r:
                img = Image.open(io.BytesIO(r.read()))
            q = dict(p.split("=") for p in url.split("?", 1)[1].split("&"))
            assert img.size == (int(q["w"]), int(q["h"])), url
            declared = (media[url].metadata.get("width"), media[url].metadata.get("height"))
            if declared != (None, None):  # served at the size the HTML declares, as on the real web
                assert declared == img.size, url
                n_declared += 1
        assert n_declared > 20
        assert server.hits["/img/summer_campaign.jpg"] == 1
