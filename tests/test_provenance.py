"""Provenance in every sample's json: built from a WARC and from a JSONL corpus, each field is checked
against the input itself (the WARC's records, the JSONL lines, the HTML's <img> tags, the bytes the
server sends), and the card lists every field with its description."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from resiliparse.parse.html import HTMLTree

from dataset_builders.config import load_config
from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
from dataset_builders.interleaved.sample import INTERLEAVED_DOCS
from dataset_builders.pairs.build import PairsConfig, build_pairs
from dataset_builders.pairs.sample import pairs_schema
from dataset_builders.phash import phash_hex
from dataset_builders.schema import IMAGE_PROVENANCE, PAGE_PROVENANCE, SCHEMAS
from dataset_builders.tiny.sample import load_documents
from dataset_builders.tiny.sample.mini_crawl import BANNER, build_mini_crawl, expected_images, page_url
from dataset_builders.web.jsonl_reader import record_to_document
from ja_vila.testing.corpus import write_sample_corpus
from model_cards.dataset_card import schema_from_card, schema_rows
from tests.build_helpers import REPO, load_rows

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


def served(url: str) -> bytes:
    with _OPENER.open(url, timeout=30) as r:
        return r.read()


def warc_records(path: Path) -> dict[str, tuple[str, str, str]]:
    """Page URL → (WARC-Record-ID, WARC-Date, HTML) of each response record, read with warcio."""
    from warcio.archiveiterator import ArchiveIterator

    out = {}
    with path.open("rb") as f:
        for rec in ArchiveIterator(f):
            if rec.rec_type == "response" and rec.http_headers.get_header("Content-Type", "").startswith("text/html"):
                body = rec.content_stream().read()
                charset = "cp932" if "Shift_JIS" in rec.http_headers.get_header("Content-Type") else "utf-8"
                out[rec.rec_headers.get_header("WARC-Target-URI")] = (
                    rec.rec_headers.get_header("WARC-Record-ID"), rec.rec_headers.get_header("WARC-Date"),
                    body.decode(charset),
                )
    return out


def img_tag_attrs(html: str, index: int) -> str:
    """The attribute values of the page's ``index``-th <img> element (document order), joined."""
    img = HTMLTree.parse(html).document.query_selector_all("img")[index]
    return " ".join(img.getattr(a) or "" for a in img.attrs)


def image_name(url: str) -> str:
    return urlsplit(url).path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def check_image(meta: dict, page_html: str, jpg) -> None:
    """The per-image fields against the page's HTML, the served bytes and the stored image."""
    url = meta["url"]
    query = parse_qs(urlsplit(url).query)
    assert f"/{image_name(url)}." in img_tag_attrs(page_html, meta["image_index"])
    assert meta["sha256"] == hashlib.sha256(served(url)).hexdigest()
    assert (meta["original_width"], meta["original_height"]) == (int(query["w"][0]), int(query["h"][0]))
    assert (meta["width"], meta["height"]) == jpg.size and max(jpg.size) <= 800
    assert meta["phash"] == phash_hex(jpg)
    assert meta["http_status"] == 200 and meta["content_type"] == CONTENT_TYPES[url.split("?")[0].rsplit(".", 1)[1]]
    assert meta["robots_txt"] == "allowed" and meta["x_robots_tag"] is None and meta["final_url"] is None
    assert meta["in_main_content"] is (image_name(url) != BANNER["name"])  # the banner sits in the sidebar


def test_pairs_from_a_warc_carry_every_provenance_field(tmp_path, image_server):
    warc = build_mini_crawl(tmp_path / "crawl", image_server.base_url)
    build_pairs([warc], tmp_path / "ja-pairs", load_config(PairsConfig, REPO / "configs/data/pairs-tiny.yaml"))
    rows, _ = load_rows(tmp_path / "ja-pairs")
    records = warc_records(warc)
    assert len(rows) > 10
    for row in rows:
        meta = row["json"]
        assert set(PAGE_PROVENANCE) | set(IMAGE_PROVENANCE) <= set(meta)
        record_id, date, html = records[meta["source_url"]]
        assert meta["warc_record_id"] == record_id and record_id.startswith("<urn:uuid:")
        assert meta["warc_date"] == date
        assert meta["source_file"] == warc.name and meta["source_line"] is None
        check_image(meta, html, row["jpg"])


def test_interleaved_from_jsonl_carry_page_line_and_per_image_provenance(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url, files=3)
    # the sidebar banner is on every page: no frequent-image rule, so only the content rule can keep it out
    cfg = load_config(InterleavedConfig, REPO / "configs/data/interleaved-tiny.yaml",
                      ["web.frequent_images.min_duplicates=1000"])
    build_interleaved([corpus], tmp_path / "ja-interleaved", cfg)
    rows, _ = load_rows(tmp_path / "ja-interleaved")
    alts = {page_url(d): dict(expected_images(d, image_server.base_url)) for d in load_documents()}
    assert len(rows) >= 5
    seen_banner = False
    for row in rows:
        meta = row["json"]
        assert set(PAGE_PROVENANCE) <= set(meta) and meta["warc_record_id"] is None and meta["warc_date"] is None
        lines = (corpus / meta["source_file"]).read_text(encoding="utf-8").splitlines()
        record = json.loads(lines[meta["source_line"] - 1])
        assert record["url"] == meta["source_url"]
        images = meta["images"]
        assert [im["url"] for im in images] == meta["image_urls"]
        for k, im in enumerate(images):
            assert set(IMAGE_PROVENANCE) | {"alt"} <= set(im)
            assert im["alt"] == alts[meta["source_url"]][im["url"]]
            check_image(im, record["html"], row[f"{k}.jpg"])
            seen_banner |= image_name(im["url"]) == BANNER["name"]
    assert not seen_banner  # interleaved keeps content images only: the sidebar banner (in_main_content=False) never lands


def test_jsonl_text_records_index_their_images():
    doc = record_to_document({"url": "http://a.example/p", "text": "本文", "images": [
        {"url": "http://a.example/1.jpg", "alt": "一"}, {"url": "http://a.example/2.jpg", "width": 300}]}, "id0")
    assert [m.metadata["image_index"] for m in doc.media] == [0, 1] and doc.media[1].metadata["width"] == 300


@pytest.mark.parametrize("schema", [pairs_schema(["clip_a", "clip_b"]), INTERLEAVED_DOCS, *SCHEMAS.values()],
                         ids=lambda s: s.name)
def test_card_lists_every_json_field_with_a_description(schema):
    rows = {r["name"]: r["doc"] for r in schema_rows(schema)}
    for name in schema.json_fields:
        assert rows[f"json.{name}"].strip(), f"json.{name} has no description"
    if "images" in schema.json_fields:
        assert rows["json.images[].sha256"] == IMAGE_PROVENANCE["sha256"].description


def test_descriptions_survive_the_card(tmp_path):
    """A release re-renders the card from the card itself: the descriptions must come back."""
    from huggingface_hub import DatasetCard

    from dataset_builders.funnel import Funnel
    from model_cards.dataset_card import DatasetCardInfo, render_dataset_card

    schema = pairs_schema(["clip_a"])
    card = render_dataset_card(schema, DatasetCardInfo("t", "d"), Funnel(), n_samples=3, n_shards=1)
    (tmp_path / "README.md").write_text(str(card), encoding="utf-8")
    back = schema_from_card(DatasetCard.load(tmp_path / "README.md"), "pairs")
    assert back.json_docs == schema.json_docs and back.features == schema.features
