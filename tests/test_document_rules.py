"""Interleaved document rules at their boundaries, the datatrove steps, and the sample round trip."""

from __future__ import annotations

import io
import pickle

import datasets
import numpy as np
import pytest
from datatrove.data import Document, Media, MediaType
from PIL import Image

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.interleaved import (
    INTERLEAVED_DOCS,
    REASONS,
    AssignImages,
    DocumentRules,
    DocumentTemplate,
    InterleavedRules,
    document_drop_reason,
    document_token_length,
    load_tokenizer,
    to_interleaved_sample,
)
from dataset_builders.keys import make_key
from dataset_builders.shard_writer import ShardWriter
from dataset_builders.tiny.tokenizer import build_tokenizer
from model_cards.dataset_card import DatasetCardInfo

COLOURS = [(230, 25, 25), (25, 200, 40), (30, 60, 230), (240, 220, 20), (200, 30, 220), (20, 220, 220)]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(build_tokenizer())


def jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buf, "JPEG")
    return buf.getvalue()


def colour_index(img: Image.Image) -> int:
    px = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    return min(range(len(COLOURS)), key=lambda i: sum((a - b) ** 2 for a, b in zip(px, COLOURS[i], strict=True)))


def sentences(n: int) -> list[str]:
    return [f"これは{i}番目の文です。" for i in range(n)]


def doc_with(n_sentences: int, sims: list[list[float]], doc_id: str = "d") -> Document:
    media = [Media(id=f"{doc_id}-m{k}", type=MediaType.IMAGE, url=f"http://example.invalid/{doc_id}/{k}.jpg",
                   media_bytes=jpeg(COLOURS[k % len(COLOURS)])) for k in range(len(sims))]
    return Document(text="", id=doc_id, media=media, metadata={
        "url": f"http://example.invalid/{doc_id}.html", "sentences": sentences(n_sentences), "similarities": sims})


def diagonal_sims(n_images: int, n_sentences: int, value: float = 0.5) -> list[list[float]]:
    """Image k relates to sentence 2k (value), everything else 0.05."""
    return [[value if j == 2 * k else 0.05 for j in range(n_sentences)] for k in range(n_images)]


def stats_of(step) -> dict[str, int]:
    return {k: v.total for k, v in step.stats.stats.items()}


def run_rules(docs: list[Document], tokenizer, rules: InterleavedRules | None = None):
    rules = rules or InterleavedRules()
    assign, keep = AssignImages(rules), DocumentRules(tokenizer, rules)
    kept = list(keep.run(assign.run(iter(docs))))
    return kept, stats_of(assign), stats_of(keep)


# -- config ------------------------------------------------------------------------------------------

def test_defaults_are_the_papers():
    r = InterleavedRules()
    assert (r.min_images, r.max_images, r.min_sentences, r.max_sentences) == (2, 5, 10, 100)
    assert (r.min_similarity, r.max_tokens, r.tokens_per_image, r.over_max_images) == (0.20, 4096, 729, "drop")
    with pytest.raises(ValueError, match="min_images <= max_images"):
        InterleavedRules(min_images=3, max_images=2)
    with pytest.raises(ValueError, match="over_max_images"):
        InterleavedRules(over_max_images="sample")


# -- boundaries ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("n_images", "reason"), [(0, "too_few_images"), (1, "too_few_images"), (2, None),
                                                   (5, None), (6, "too_many_images")])
def test_image_count_boundaries(tokenizer, n_images, reason):
    kept, _, stats = run_rules([doc_with(20, diagonal_sims(n_images, 20))], tokenizer)
    assert len(kept) == (reason is None)
    if reason:
        assert stats[f"dropped_{reason}"] == 1
    else:
        assert len(kept[0].media) == n_images


@pytest.mark.parametrize(("n_sentences", "reason"), [(9, "too_few_sentences"), (10, None), (100, None),
                                                      (101, "too_many_sentences")])
def test_sentence_count_boundaries(tokenizer, n_sentences, reason):
    kept, _, stats = run_rules([doc_with(n_sentences, diagonal_sims(3, n_sentences))], tokenizer)
    assert len(kept) == (reason is None)
    if reason:
        assert stats[f"dropped_{reason}"] == 1


@pytest.mark.parametrize(("second", "reason"), [(0.20, None), (0.2 - 1e-9, "low_similarity"), (0.35, None)])
def test_assigned_similarity_exactly_at_the_threshold_passes(tokenizer, second, reason):
    # two images both prefer sentence 0 (0.9); the first only likes sentence 0, so the second gets
    # sentence 1 at `second`
    sims = [[0.9, 0.0] + [0.0] * 10, [0.9, second] + [0.0] * 10]
    kept, assign_stats, stats = run_rules([doc_with(12, sims)], tokenizer)
    assert "media_dropped_low_similarity" not in assign_stats  # both images pass the 0.20 drop
    assert len(kept) == (reason is None)
    if reason:
        assert stats["dropped_low_similarity"] == 1
    else:
        assert kept[0].metadata["image_positions"] == [0, 1]
        assert kept[0].metadata["assigned_similarities"] == [0.9, second]


def test_token_length_counts_729_per_image_with_the_real_tokenizer(tokenizer):
    texts, positions = sentences(12), [0, 3, 3]
    n = document_token_length(tokenizer, texts, positions)
    rendered = DocumentTemplate().render(texts, positions)
    assert rendered.count("<image>") == 3 and rendered.index("<image>") > rendered.index(texts[0])
    expanded = rendered.replace("<image>", "<image>" * 729)  # what the processor feeds the LLM
    assert n == len(tokenizer.encode(expanded, add_special_tokens=False)) + 2  # + bos + eos
    assert n > 3 * 729 + 12  # the text counts too
    assert document_token_length(tokenizer, texts, positions, tokens_per_image=1) == n - 3 * 728


@pytest.mark.parametrize(("slack", "kept_expected"), [(0, True), (1, True), (-1, False)])
def test_token_length_just_under_and_over_the_maximum(tokenizer, slack, kept_expected):
    doc = doc_with(30, diagonal_sims(4, 30))
    length = document_token_length(tokenizer, sentences(30), [0, 2, 4, 6])
    kept, _, stats = run_rules([doc], tokenizer, InterleavedRules(max_tokens=length + slack))
    assert len(kept) == kept_expected
    if kept_expected:
        assert kept[0].metadata["num_tokens"] == length
    else:
        assert stats["dropped_too_long"] == 1


def test_paper_maximum_drops_a_long_document(tokenizer):
    # 5 images = 3,645 tokens; 100 long sentences push it over 4,096
    long = [f"{s}富士山は日本で一番高い山で、東京駅から新幹線に乗りました。" for s in sentences(100)]
    doc = doc_with(100, diagonal_sims(5, 100))
    doc.metadata["sentences"] = long
    kept, _, stats = run_rules([doc], tokenizer)
    assert not kept and stats["dropped_too_long"] == 1


def test_drop_reason_order_and_lazy_token_count():
    calls = []

    def length() -> int:
        calls.append(1)
        return 10

    assert document_drop_reason(5, [0.5], length) == "too_few_images"
    assert document_drop_reason(5, [0.5, 0.1], length) == "too_few_sentences"
    assert document_drop_reason(50, [0.5, 0.1], length) == "low_similarity"
    assert not calls, "the tokenizer must not run when a cheaper rule already drops"
    assert document_drop_reason(50, [0.5, 0.3], length) is None and calls == [1]
    assert document_drop_reason(50, [0.5, 0.3], lambda: 4097) == "too_long"
    assert set(REASONS) == {"too_few_images", "too_many_images", "too_few_sentences", "too_many_sentences",
                            "low_similarity", "too_long"}


def test_placeholder_inside_the_text_is_dropped_not_miscounted(tokenizer):
    doc = doc_with(12, diagonal_sims(2, 12))
    doc.metadata["sentences"][5] = "画像は<image>タグで表示"
    kept, _, stats = run_rules([doc], tokenizer)
    assert not kept and stats["dropped_placeholder_in_text"] == 1


# -- AssignImages --------------------------------------------------------------------------------------

def test_assign_step_reorders_media_and_counts_dropped_images():
    # image 0 -> sentence 6, image 1 unrelated (dropped), image 2 -> sentence 1, image 3 -> sentence 6 too?
    # no: image 3 likes 6 most but 6 is taken by image 0 (0.9 vs 0.6), so it gets sentence 8
    sims = [[0.05] * 12 for _ in range(4)]
    sims[0][6], sims[2][1], sims[3][6], sims[3][8] = 0.9, 0.4, 0.6, 0.3
    sims[1][3] = 0.19
    doc = doc_with(12, sims)
    urls = [m.url for m in doc.media]
    step = AssignImages()
    (out,) = list(step.run(iter([doc])))
    assert [m.url for m in out.media] == [urls[2], urls[0], urls[3]]
    assert out.metadata["image_positions"] == [1, 6, 8]
    assert out.metadata["assigned_similarities"] == [0.4, 0.9, 0.3]
    assert out.metadata["similarities"] == [sims[2], sims[0], sims[3]]  # rows follow the new media order
    stats = stats_of(step)
    assert stats["media_dropped_low_similarity"] == 1 and stats["media_kept"] == 3


def test_similarities_can_come_from_the_scorers_rows_on_each_image():
    sims = [[0.05] * 12 for _ in range(3)]
    sims[0][9], sims[1][2], sims[2][5] = 0.6, 0.7, 0.1  # image 2 is unrelated
    from_doc = doc_with(12, sims)
    from_media = doc_with(12, sims)
    del from_media.metadata["similarities"]
    for m, row in zip(from_media.media, sims, strict=True):
        m.metadata["clip_similarities"] = row
    a, b = (list(AssignImages().run(iter([d])))[0] for d in (from_doc, from_media))
    assert [m.id for m in a.media] == [m.id for m in b.media] == ["d-m1", "d-m0"]
    assert a.metadata["image_positions"] == b.metadata["image_positions"] == [2, 9]
    assert b.media[0].metadata["clip_similarities"] == sims[1]
    partial = doc_with(12, sims)
    del partial.metadata["similarities"]
    partial.media[0].metadata["clip_similarities"] = sims[0]
    step = AssignImages()
    assert list(step.run(iter([partial]))) == [] and stats_of(step)["dropped_bad_similarities"] == 1


@pytest.mark.parametrize("solver", ["lapjv", "scipy"])
def test_keep_top_keeps_the_most_similar_images(tokenizer, solver):
    # 7 related images: "drop" drops the document, "keep_top" keeps the 5 best (0.9 .. 0.5)
    best = [0.3, 0.9, 0.5, 0.8, 0.25, 0.7, 0.6]
    sims = [[b if j == 2 * k else 0.05 for j in range(20)] for k, b in enumerate(best)]
    kept, _, stats = run_rules([doc_with(20, sims)], tokenizer, InterleavedRules(solver=solver))
    assert not kept and stats["dropped_too_many_images"] == 1
    rules = InterleavedRules(over_max_images="keep_top", solver=solver)
    kept, assign_stats, _ = run_rules([doc_with(20, sims)], tokenizer, rules)
    assert [m.url.rsplit("/", 1)[1] for m in kept[0].media] == ["1.jpg", "2.jpg", "3.jpg", "5.jpg", "6.jpg"]
    assert kept[0].metadata["image_positions"] == [2, 4, 6, 10, 12]
    assert assign_stats["media_dropped_over_max_images"] == 2


def test_bad_similarities_drop_the_document_and_the_run_goes_on():
    good = doc_with(12, diagonal_sims(2, 12), "good")
    wrong_rows = doc_with(12, diagonal_sims(2, 12), "rows")
    wrong_rows.media.pop()
    wrong_cols = doc_with(11, diagonal_sims(2, 12), "cols")
    nan = doc_with(12, [[float("nan")] * 12, [0.5] * 12], "nan")
    no_sentences = doc_with(12, diagonal_sims(2, 12), "nosent")
    del no_sentences.metadata["sentences"]
    step = AssignImages()
    out = list(step.run(iter([wrong_rows, wrong_cols, nan, no_sentences, good])))
    assert [d.id for d in out] == ["good"]
    assert stats_of(step)["dropped_bad_similarities"] == 4


def test_rules_before_assignment_is_a_wiring_error(tokenizer):
    with pytest.raises(RuntimeError, match="put AssignImages before DocumentRules"):
        list(DocumentRules(tokenizer).run(iter([doc_with(12, diagonal_sims(2, 12))])))


def test_tokenizer_from_a_path_and_placeholder_added_when_missing(tmp_path):
    build_tokenizer().save_pretrained(tmp_path / "tok")
    step = DocumentRules(str(tmp_path / "tok"))
    assert len(pickle.dumps(step)) < 10_000  # the worker reloads it from the path
    kept = list(step.run(AssignImages().run(iter([doc_with(12, diagonal_sims(2, 12))]))))
    assert len(kept) == 1 and kept[0].metadata["num_tokens"] > 2 * 729
    tok = build_tokenizer(vocab_size=300, texts=["画像です"])
    assert len(tok.encode("<img>", add_special_tokens=False)) > 1
    tok = load_tokenizer(tok, image_placeholder="<img>")
    assert len(tok.encode("<img>", add_special_tokens=False)) == 1
    rules = InterleavedRules(template=DocumentTemplate(image_placeholder="<img>"))
    assert document_token_length(tok, sentences(3), [1], rules.template) == (
        len(tok.encode("\n".join(sentences(3)[:2] + ["<img>", sentences(3)[2]]), add_special_tokens=False)) + 2 + 728)
    with pytest.raises(ValueError, match="cannot load the tokenizer"):
        load_tokenizer(str(tmp_path / "missing"))


# -- the sample ----------------------------------------------------------------------------------------

def test_samples_round_trip_through_the_writer_in_document_order(tokenizer, tmp_path):
    # image k relates most to sentence `place[k]`: document order differs from the page's image order
    rng = np.random.default_rng(3)
    docs, expected = [], []
    for d, place in enumerate([[8, 2], [3, 1], [5, 0], [9, 4], [7, 6], [4, 2, 9, 0, 1], [10, 5, 1]]):
        sims = rng.uniform(0.0, 0.15, (len(place), 12)).tolist()
        for k, j in enumerate(place):
            sims[k][j] = 0.5 + 0.01 * k
        docs.append(doc_with(12, sims, f"doc{d}"))
        order = sorted(range(len(place)), key=lambda k: place[k])
        expected.append(([k % len(COLOURS) for k in order], sorted(place)))
    kept, _, _ = run_rules(docs, tokenizer)
    assert len(kept) == len(docs)
    with ShardWriter(tmp_path, INTERLEAVED_DOCS, on_invalid="raise") as w:
        for doc in kept:
            w.write(to_interleaved_sample(doc))
    finalize_dataset(tmp_path, INTERLEAVED_DOCS, DatasetCardInfo(pretty_name="t", description="interleaved test"))
    rows = {r["__key__"]: r for r in datasets.load_dataset(str(tmp_path), split="train")}
    assert len(rows) == len(docs)
    for doc, (colours, positions) in zip(docs, expected, strict=True):
        row = rows[make_key(doc.metadata["url"])]
        images = [row[f"{k}.jpg"] for k in range(5)]
        assert [colour_index(im) for im in images[: len(colours)]] == colours
        assert images[len(colours):] == [None] * (5 - len(colours))
        meta = row["json"]
        assert meta["image_positions"] == positions
        assert meta["texts"] == sentences(12)
        assert meta["source_url"] == doc.metadata["url"]
        assert meta["image_urls"] == [f"http://example.invalid/{doc.id}/{k}.jpg" for k in colours]
        assert meta["similarities"] == pytest.approx([0.5 + 0.01 * k for k in colours], abs=1e-6)
        assert meta["num_tokens"] == doc.metadata["num_tokens"] > len(colours) * 729


def test_sample_refuses_what_the_schema_cannot_hold():
    doc = doc_with(12, diagonal_sims(2, 12))
    with pytest.raises(ValueError, match="run AssignImages first"):
        to_interleaved_sample(doc)
    (doc,) = list(AssignImages().run(iter([doc])))
    doc.media[1].media_bytes = None
    with pytest.raises(ValueError, match="has no bytes"):
        to_interleaved_sample(doc)
    (six,) = list(AssignImages().run(iter([doc_with(20, diagonal_sims(6, 20))])))
    with pytest.raises(ValueError, match="run DocumentRules first"):
        to_interleaved_sample(six)
