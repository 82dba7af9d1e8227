"""Image–text scoring: scorers, the median-weighted pair cut (corpus-wide), similarity matrices, NSFW."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from datatrove.data import Document, Media, MediaType
from PIL import Image

from dataset_builders.scoring import (
    ImageSentenceSimilarity,
    NsfwFilter,
    NsfwHead,
    PairCut,
    PairScorer,
    build_scorer,
    caption_of,
    combined_scores,
    decide_pair_cut,
    image_sentence_similarities,
    load_nsfw_head,
    similarity_matrix,
)
from dataset_builders.scoring.combine import drop_count
from dataset_builders.scoring.open_clip_scorer import HFTokenizerAdapter
from dataset_builders.scoring.preprocess import ImageTransform, decode_rgb
from dataset_builders.scoring.scorer import BaseScorer
from dataset_builders.scoring.tiny import tiny_open_clip, tiny_open_clip_scorer
from dataset_builders.tiny.synthetic_images import make_image, make_pil_image
from dataset_builders.tiny.tokenizer import build_tokenizer

CAPTIONS = ["猫が窓辺で昼寝をしている", "富士山と青い空", "東京駅の赤レンガ駅舎", "夕焼けの海", "公園で遊ぶ子供たち"]


def _images(n: int, w: int = 96, h: int = 72) -> list[bytes]:
    return [make_image(f"score-{i}", w, h) for i in range(n)]


def _jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _stat(step, name: str) -> int:
    metric = step.stats.stats.get(name)  # .get: Stats has no __contains__ and its dict is a defaultdict
    return int(metric.total) if metric is not None else 0


def _pair_doc(i: int, image: bytes | None, alt: str | None = None) -> Document:
    media = [] if image is None else [Media(id=f"m{i}", type=MediaType.IMAGE, url=f"https://e.jp/{i}.jpg",
                                            alt=alt if alt is not None else CAPTIONS[i % len(CAPTIONS)] + f" {i}",
                                            media_bytes=image)]
    return Document(text="", id=f"doc-{i}", media=media)


# --------------------------------------------------------------------------------------------- scorers
@pytest.fixture(scope="module", params=["tiny", "tiny_open_clip"])
def scorer_type(request) -> str:
    return request.param


def test_scorer_embeddings_are_normalised_deterministic_and_batch_independent(scorer_type):
    images = _images(7) + [make_pil_image("pil-input", 50, 80)]
    a = build_scorer({"type": scorer_type, "seed": 0, "batch_size": 3, "num_workers": 2})
    b = build_scorer({"type": scorer_type, "seed": 0, "batch_size": 64, "num_workers": 0})
    ea, eb = a.embed_images(images), b.embed_images(images)
    assert ea.ok.all() and not ea.errors
    torch.testing.assert_close(ea.features.norm(dim=-1), torch.ones(len(images)))
    torch.testing.assert_close(ea.features, eb.features, atol=1e-5, rtol=1e-5)  # batched == unbatched
    one = torch.cat([b.embed_images([img]).features for img in images])
    torch.testing.assert_close(one, eb.features, atol=1e-5, rtol=1e-5)
    ta, tb = a.embed_texts(CAPTIONS), b.embed_texts(CAPTIONS)
    torch.testing.assert_close(ta.norm(dim=-1), torch.ones(len(CAPTIONS)))
    torch.testing.assert_close(ta, torch.cat([b.embed_texts([c]) for c in CAPTIONS]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ta, tb, atol=1e-5, rtol=1e-5)
    # similarity is the cosine, and a different seed is a different model
    sim = a.similarity(ea.features[:5], ta)
    cos = torch.nn.functional.cosine_similarity(ea.features[:5, None], ta[None], dim=-1)
    torch.testing.assert_close(sim, cos, atol=1e-6, rtol=1e-6)
    other = build_scorer({"type": scorer_type, "seed": 1})
    assert not torch.allclose(other.embed_images(images[:2]).features, ea.features[:2], atol=1e-3)


def test_failing_images_are_counted_and_skipped_not_fatal(scorer_type):
    s = build_scorer({"type": scorer_type, "batch_size": 2, "num_workers": 2})
    good = _images(3)
    truncated = good[0][: len(good[0]) // 3]
    batch = [good[0], b"not an image at all", good[1], truncated, b"", good[2]]
    emb = s.embed_images(batch)
    assert emb.ok.tolist() == [True, False, True, False, False, True]
    assert emb.errors == {1: "not_an_image", 3: "undecodable", 4: "not_an_image"}
    assert emb.failures == {"not_an_image": 2, "undecodable": 1}
    assert torch.isnan(emb.features[~emb.ok]).all() and torch.isfinite(emb.features[emb.ok]).all()
    torch.testing.assert_close(emb.features[emb.ok], s.embed_images(good).features, atol=1e-5, rtol=1e-5)
    sims, errors = s.score_pairs(batch, CAPTIONS + ["x"])
    assert torch.isnan(sims[[1, 3, 4]]).all() and torch.isfinite(sims[[0, 2, 5]]).all() and errors == emb.errors
    all_bad = s.embed_images([b"x", b"y"])
    assert not all_bad.ok.any() and all_bad.features.shape[0] == 2


def test_fast_transform_equals_open_clip_eval_transform_and_hf_processor():
    model, preprocess, _ = tiny_open_clip(image_size=32)
    import open_clip

    fast = ImageTransform.from_open_clip(open_clip.get_model_preprocess_cfg(model), fast=False)
    for w, h in [(96, 72), (72, 96), (32, 32), (641, 479)]:
        img = make_pil_image(f"t{w}", w, h)
        ours = fast.collate([fast(img)], torch.device("cpu"), torch.float32)[0]
        assert torch.equal(ours, preprocess(img))  # bit-identical to open_clip's own transform
        quick = ImageTransform.from_open_clip(open_clip.get_model_preprocess_cfg(model))  # crop-box resize
        diff = (quick.collate([quick(img)], torch.device("cpu"), torch.float32)[0] - ours).abs()
        assert diff.max() <= 2.5 / 255 / min(quick.std) and (diff > 1e-6).float().mean() < 0.05
    from dataset_builders.tiny.models import tiny_clip

    _, processor, _ = tiny_clip(image_size=32)
    fast_hf = ImageTransform.from_hf_processor(processor, fast=False)
    img = make_pil_image("hf", 120, 90)
    ref = processor(images=[img], return_tensors="pt")["pixel_values"][0]
    ours = fast_hf.collate([fast_hf(img)], torch.device("cpu"), torch.float32)[0]
    assert ours.shape == ref.shape and (ours - ref).abs().max() < 0.05  # <= ~2/255 of a pixel


def test_draft_decoding_keeps_enough_resolution_and_checks_like_decode_image():
    data = make_image("draft", 640, 480)
    img = decode_rgb(data, draft_size=(224, 224))
    assert img.mode == "RGB" and min(img.size) >= 224 and img.size[0] < 640  # decoded at 1/2 scale
    assert decode_rgb(data).size == (640, 480)
    with pytest.raises(Exception) as e:
        decode_rgb(data[:200], draft_size=(32, 32))
    assert e.value.reason == "undecodable"
    with pytest.raises(Exception) as e:
        decode_rgb(data, draft_size=(32, 32), max_pixels=1000)
    assert e.value.reason == "too_many_pixels"


def test_registry_builds_open_clip_from_a_config_dict_and_rejects_bad_configs():
    tok = build_tokenizer()
    cfg = {
        "embed_dim": 8,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 16, "head_width": 8, "patch_size": 16},
        "text_cfg": {"context_length": 16, "vocab_size": len(tok), "width": 16, "heads": 2, "layers": 1,
                     "pool_type": "eos", "eos_id": tok.eos_token_id, "pad_id": tok.pad_token_id},
    }
    s = build_scorer({"type": "open_clip", "model": "ja-vila-test-cfg", "model_cfg": cfg, "seed": 3,
                      "tokenizer": HFTokenizerAdapter(tok, context_length=16)})
    assert s.embed_images(_images(2)).features.shape == (2, 8)
    assert s.embed_texts(["テスト"]).shape == (1, 8)
    with pytest.raises(ValueError, match="unknown scorer type"):
        build_scorer({"type": "nope"})
    with pytest.raises(ValueError, match="'type'"):
        build_scorer({"model": "x"})
    with pytest.raises(ValueError, match="bad options"):
        build_scorer({"type": "tiny", "no_such_option": 1})


def test_tokenizer_adapter_layout():
    tok = build_tokenizer()
    adapter = HFTokenizerAdapter(tok, context_length=8)
    ids = adapter(["猫", "とても長い文章がここに続きます。さらに続きます。"])
    assert ids.shape == (2, 8) and ids.dtype == torch.long
    assert ids[0, 0] == tok.bos_token_id and (ids == tok.eos_token_id).sum(1).tolist() == [1, 1]
    assert ids[1, -1] == tok.eos_token_id  # truncated, eos kept
    assert ids[0, -1] == tok.pad_token_id


def test_real_photos_score(realdata):
    paths = [p for p in sorted((realdata / "images").glob("*")) if p.is_file()][:3]
    paths += [p for p in sorted((realdata / "vqa/textvqa/images").rglob("*.jpg")) if p.is_file()][:3]
    if not paths:
        pytest.skip("no real images")
    s = build_scorer({"type": "tiny", "image_size": 64})
    emb = s.embed_images([p.read_bytes() for p in paths])
    assert emb.ok.all(), emb.errors
    torch.testing.assert_close(emb.features.norm(dim=-1), torch.ones(len(paths)))


# ------------------------------------------------------------------------------- combined score + cut
def test_combined_score_formula_on_hand_made_numbers():
    scores = np.array([[0.30, 0.20], [0.60, 0.10], [0.15, 0.30], [0.45, 0.40]])
    medians = [0.30, 0.20]
    # mean over models of score / median
    np.testing.assert_allclose(combined_scores(scores, medians), [1.0, 1.25, 1.0, 1.75])
    # corpus medians: model A median(0.15, 0.30, 0.45, 0.60) = 0.375; B median(0.1, 0.2, 0.3, 0.4) = 0.25
    d = decide_pair_cut(scores, ["a", "b"], drop_fraction=0.5)
    assert d.medians == pytest.approx((0.375, 0.25))
    expected = [(0.30 / 0.375 + 0.20 / 0.25) / 2, (0.60 / 0.375 + 0.10 / 0.25) / 2,
                (0.15 / 0.375 + 0.30 / 0.25) / 2, (0.45 / 0.375 + 0.40 / 0.25) / 2]
    assert d.combined({"a": 0.30, "b": 0.20}) == pytest.approx(expected[0])
    # k = floor(0.5 * 4) = 2 -> threshold is the 3rd smallest combined; the two lowest are dropped
    assert d.threshold == pytest.approx(sorted(expected)[2]) and d.n_dropped == 2
    kept = [i for i, row in enumerate(scores) if d.keep(d.combined({"a": row[0], "b": row[1]}))]
    assert kept == [i for i in range(4) if expected[i] >= sorted(expected)[2]]
    # a model on a 10x larger scale gets the same say: scaling one column leaves combined unchanged
    scaled = scores * [1.0, 10.0]
    d10 = decide_pair_cut(scaled, ["a", "b"], 0.5)
    np.testing.assert_allclose(combined_scores(scaled, d10.medians), combined_scores(scores, d.medians))
    # the per-pair function and the bulk function agree bit for bit (what makes 1 vs N tasks exact)
    rng = np.random.default_rng(0)
    big = rng.uniform(0.05, 0.5, size=(1000, 2))
    bulk = combined_scores(big, (0.21, 0.33))
    assert all(combined_scores(big[i : i + 1], (0.21, 0.33))[0] == bulk[i] for i in range(1000))


def test_cut_boundaries_and_ties():
    assert [drop_count(n, 0.3) for n in (0, 1, 3, 4, 10, 11, 100)] == [0, 0, 0, 1, 3, 3, 30]
    names = ["a", "b"]
    distinct = np.column_stack([np.linspace(0.1, 0.5, 10), np.linspace(0.2, 0.3, 10)])
    d = decide_pair_cut(distinct, names)
    assert d.n_dropped == 3 and d.n_scored == 10  # exactly the bottom 30%
    # ties at the threshold are all kept: combined = [1,2,3,3,3,4,5,6,7,8] / 4 (median of col = 3.5 ...)
    col = np.array([1, 2, 3, 3, 3, 4, 5, 6, 7, 8], dtype=float)
    tied = decide_pair_cut(np.column_stack([col, col]), names)
    combined = combined_scores(np.column_stack([col, col]), tied.medians)
    assert tied.threshold == combined[2] and tied.n_dropped == 2  # k=3, but the 3rd value ties -> only 2 dropped
    assert decide_pair_cut(distinct[:3], names).n_dropped == 0  # floor(0.9) = 0
    assert decide_pair_cut(distinct, names, 0.0).n_dropped == 0
    empty = decide_pair_cut(np.empty((0, 2)), names)
    assert empty.threshold is None and empty.keep(-5.0)
    with pytest.raises(ValueError):
        decide_pair_cut(distinct, names, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        decide_pair_cut(np.array([[0.1, np.nan]]), names)
    with pytest.raises(ValueError, match="median"):
        decide_pair_cut(np.array([[0.0, 0.1], [0.0, 0.2], [0.3, 0.3]]), names)


PAIR_SCORERS = {"jaclip": {"type": "tiny", "seed": 0}, "openclip": {"type": "tiny_open_clip", "seed": 1}}


def _pass1(docs, work_dir, rank, world_size, scorers=PAIR_SCORERS, batch_size=4):
    scorer = PairScorer(scorers, text_source="alt", batch_size=batch_size, num_workers=2)
    collect = PairCut(work_dir).collect_step()
    out = list(collect.run(scorer.run(iter(docs), rank, world_size), rank, world_size))
    return out, scorer


def _pass2(docs, work_dir):
    cut = PairCut(work_dir).apply_step()
    return [d.id for d in cut.run(iter(docs))], cut


def test_pair_cut_is_corpus_wide_same_kept_set_for_1_and_3_tasks(tmp_path):
    images = _images(40, 48, 40)
    docs = lambda: [_pair_doc(i, images[i]) for i in range(40)]  # noqa: E731
    # Scores are computed one pair per forward here: a float32 forward's last bits depend on the batch
    # shape, so batches that differ between splits would differ by ~1e-8. The merge and the cut are
    # exact given the scores, and that is what this test pins.
    one, _ = _pass1(docs(), tmp_path / "one", 0, 1, batch_size=1)
    d1 = PairCut(tmp_path / "one").merge(1)
    kept1, cut1 = _pass2(one, tmp_path / "one")
    # three uneven tasks, in another order
    all_docs = docs()[::-1]
    parts = [all_docs[:5], all_docs[5:22], all_docs[22:]]
    scored3 = []
    for rank, part in enumerate(parts):
        scored3 += _pass1(part, tmp_path / "three", rank, 3, batch_size=1)[0]
    d3 = PairCut(tmp_path / "three").merge(3)
    kept3 = []
    for rank in range(3):
        kept3 += _pass2([d for d in scored3 if d in parts[rank]], tmp_path / "three")[0]
    assert d1 == d3
    assert sorted(kept1) == sorted(kept3)
    assert len(kept1) == 40 - 12 and _stat(cut1, "dropped_low_clip_score") == 12 == d1.n_dropped
    assert d1.n_scored == 40
    # the kept pairs are exactly those with the highest combined scores
    combined = {d.id: d1.combined(d.metadata["clip_scores"]) for d in one}
    assert min(combined[i] for i in kept1) > max(v for k, v in combined.items() if k not in kept1)
    assert all("clip_score" in d.metadata for d in one if d.id in kept1)


def test_merge_refuses_incomplete_or_mixed_task_files(tmp_path):
    images = _images(6, 40, 40)
    for rank in range(2):
        _pass1([_pair_doc(i, images[i]) for i in range(rank * 3, rank * 3 + 3)], tmp_path, rank, 2)
    PairCut(tmp_path).rows_path(1, 2).unlink()
    with pytest.raises(ValueError, match="incomplete"):
        PairCut(tmp_path).merge()
    _pass1([_pair_doc(0, images[0])], tmp_path, 1, 5)  # a stale file of another run
    with pytest.raises(ValueError, match="different task counts"):
        PairCut(tmp_path).merge()
    with pytest.raises(FileNotFoundError, match="merge"):
        list(PairCut(tmp_path / "nothing").apply_step().run(iter([_pair_doc(0, images[0])])))


def test_pair_scorer_counts_unscorable_pairs(tmp_path):
    good = _images(3, 40, 40)
    docs = [
        _pair_doc(0, good[0]),
        _pair_doc(1, None),
        _pair_doc(2, b"garbage bytes"),
        _pair_doc(3, good[1], alt="   "),
        _pair_doc(4, good[2][:100]),
        _pair_doc(5, good[2]),
    ]
    out, step = _pass1(docs, tmp_path, 0, 1)
    assert [d.id for d in out] == ["doc-0", "doc-5"]
    assert {k: _stat(step, k) for k in ("dropped_no_image", "dropped_not_an_image", "dropped_no_text",
                                        "dropped_undecodable", "forwarded", "total")} == {
        "dropped_no_image": 1, "dropped_not_an_image": 1, "dropped_no_text": 1, "dropped_undecodable": 1,
        "forwarded": 2, "total": 6}
    assert set(out[0].metadata["clip_scores"]) == {"jaclip", "openclip"}
    # scores equal the scorers' own pair scores (the shared decode changes nothing)
    s = build_scorer(PAIR_SCORERS["jaclip"])
    ref, _ = s.score_pairs([good[0]], [docs[0].media[0].alt])
    assert out[0].metadata["clip_scores"]["jaclip"] == pytest.approx(float(ref[0]), abs=1e-5)
    # pass 2 drops docs that never got scores
    PairCut(tmp_path).merge(1)
    kept, cut = _pass2([*out, _pair_doc(9, good[0])], tmp_path)
    assert "doc-9" not in kept and _stat(cut, "dropped_no_clip_score") == 1


def test_caption_sources():
    doc = Document(text="本文", id="d", media=[Media(id="m", type=MediaType.IMAGE, url="u", alt="代替テキスト")],
                   metadata={"caption": "キャプション"})
    assert caption_of(doc, "alt") == "代替テキスト"
    assert caption_of(doc, "text") == "本文"
    assert caption_of(doc, "metadata.caption") == "キャプション"
    assert caption_of(doc, lambda d: d.id) == "d"
    doc.media[0].alt = ""
    assert caption_of(doc, "auto") == "本文" and caption_of(doc, "alt") is None
    with pytest.raises(ValueError):
        caption_of(doc, "bogus")


# ---------------------------------------------------------------------------- image x sentence matrix
def test_image_sentence_matrix_batched_across_documents_equals_per_document():
    s = build_scorer({"type": "tiny", "batch_size": 3})
    imgs = _images(7, 40, 40)
    docs = [(imgs[:2], CAPTIONS[:3]), (imgs[2:5], CAPTIONS[1:]), ([], CAPTIONS[:1]), (imgs[5:], [])]
    batched = image_sentence_similarities(s, docs)
    for (images, sents), res in zip(docs, batched, strict=True):
        assert res.matrix.shape == (len(images), len(sents))
        if images and sents:
            ref = s.similarity(s.embed_images(images).features, s.embed_texts(sents)).numpy()
            np.testing.assert_allclose(res.matrix, ref, atol=1e-5)
            assert np.abs(res.matrix).max() <= 1.0 + 1e-5


def test_similarity_step_stores_rows_and_drops_failed_and_low_images():
    s = build_scorer({"type": "tiny"})
    imgs = _images(3, 40, 40)
    media = [Media(id=f"m{i}", type=MediaType.IMAGE, url=f"u{i}", media_bytes=b) for i, b in
             enumerate([imgs[0], b"broken", imgs[1], imgs[2]])]
    doc = Document(text="", id="d", media=media, metadata={"sentences": CAPTIONS[:4]})
    step = ImageSentenceSimilarity(s, images_per_chunk=2)
    (out,) = list(step.run(iter([doc])))
    assert [m.id for m in out.media] == ["m0", "m2", "m3"]
    assert _stat(step, "media_dropped_not_an_image") == 1
    matrix = similarity_matrix(out)
    ref = s.similarity(s.embed_images([imgs[0], imgs[1], imgs[2]]).features, s.embed_texts(CAPTIONS[:4])).numpy()
    np.testing.assert_allclose(matrix, ref, atol=1e-5)
    # min_similarity drops the images whose best sentence is below it
    cut = float(np.median(ref.max(axis=1)))
    doc2 = Document(text="\n".join(CAPTIONS[:4]), id="d2",
                    media=[Media(id=f"n{i}", type=MediaType.IMAGE, url="u", media_bytes=b) for i, b in enumerate(imgs)])
    step2 = ImageSentenceSimilarity(s, min_similarity=cut)
    (out2,) = list(step2.run(iter([doc2])))
    kept = {m.id for m in out2.media}
    assert kept == {f"n{i}" for i in range(3) if ref[i].max() >= cut}
    assert _stat(step2, "media_dropped_low_similarity") == 3 - len(kept)


# ------------------------------------------------------------------------------------------------ NSFW
class MeanColourScorer(BaseScorer):
    """A hand-made scorer: the image embedding is the normalised mean colour (so 'red' is a direction)."""

    def __init__(self):
        super().__init__("mean-colour", ImageTransform(size=(16, 16)), device="cpu", batch_size=4, num_workers=0)

    def _encode_pixels(self, pixels):
        return pixels.mean(dim=(2, 3))

    def _encode_texts(self, texts):
        return torch.tensor([[float(len(t)), 1.0, 1.0] for t in texts])


def _red_head() -> NsfwHead:
    """p = sigmoid(20 * relu(x_R - x_G - x_B - 1) * 50 - 10): ~1 for saturated red, ~0 otherwise."""
    head = NsfwHead(input_dim=3, hidden_sizes=(2,), normalize_input=False)
    with torch.no_grad():
        head.linear_1.weight.copy_(torch.tensor([[1.0, -1.0, -1.0], [0.0, 0.0, 0.0]]))
        head.linear_1.bias.copy_(torch.tensor([-1.0, 0.0]))
        head.linear_2.weight.copy_(torch.tensor([[50.0, 0.0]]))
        head.linear_2.bias.copy_(torch.tensor([-10.0]))
    return head


def _solid(colour) -> bytes:
    return _jpeg(Image.new("RGB", (40, 30), colour))


def test_nsfw_filter_drops_exactly_the_images_the_head_flags():
    red, dark_red = _solid((250, 5, 5)), _solid((200, 0, 10))
    others = [_solid(c) for c in [(10, 200, 10), (10, 10, 240), (255, 255, 255), (128, 128, 128), (250, 250, 0)]]
    def image(mid: str, data: bytes) -> Media:
        return Media(id=mid, type=MediaType.IMAGE, url=f"https://e.jp/{mid}.jpg", media_bytes=data)

    def make_docs() -> list[Document]:
        return [
            Document(text="a", id="mixed", media=[image("a0", red), image("a1", others[0]), image("a2", b"??")]),
            Document(text="b", id="clean", media=[image(f"b{i}", o) for i, o in enumerate(others[1:])]),
            Document(text="c", id="only-red", media=[image("c0", dark_red)]),
        ]

    step = NsfwFilter(MeanColourScorer(), _red_head(), threshold=0.5, images_per_chunk=3)
    out = {d.id: d for d in step.run(iter(make_docs()))}
    assert set(out) == {"mixed", "clean"}
    assert [m.id for m in out["mixed"].media] == ["a1"]
    assert [m.id for m in out["clean"].media] == ["b0", "b1", "b2", "b3"]
    assert all(m.metadata["nsfw"] < 0.01 for d in out.values() for m in d.media)
    assert _stat(step, "media_dropped_nsfw") == 2 and _stat(step, "media_dropped_not_an_image") == 1
    assert _stat(step, "dropped_no_image") == 1
    # document mode: any flagged image drops the whole document
    step2 = NsfwFilter(MeanColourScorer(), _red_head(), mode="document")
    assert [d.id for d in step2.run(iter(make_docs()))] == ["clean"]
    assert _stat(step2, "dropped_nsfw") == 2
    with pytest.raises(ValueError):
        NsfwFilter(MeanColourScorer(), mode="bogus")


def _laion_port_state_dict(rng: np.random.Generator, dims=(768, 64, 512, 256, 1)) -> dict[str, np.ndarray]:
    """A state dict laid out as the public PyTorch ports of LAION's CLIP-based NSFW head name it
    (Keras ``Normalization`` then Dense 64 → 512 → 256 → 1), written here with numpy only."""
    state = {"norm.mean": rng.normal(0, 0.02, dims[0]).astype(np.float32),
             "norm.variance": rng.uniform(0.5e-3, 2e-3, dims[0]).astype(np.float32)}
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:], strict=True), start=1):
        state[f"linear_{i}.weight"] = rng.normal(0, 1 / np.sqrt(a), (b, a)).astype(np.float32)
        state[f"linear_{i}.bias"] = rng.normal(0, 0.1, b).astype(np.float32)
    return state


def _numpy_head(state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The head's forward written out in float64 numpy: normalise, Dense+ReLU ..., Dense, sigmoid."""
    h = (x - state["norm.mean"]) / np.sqrt(state["norm.variance"].astype(np.float64))
    n = sum(1 for k in state if k.endswith(".weight"))
    for i in range(1, n + 1):
        h = h @ state[f"linear_{i}.weight"].T.astype(np.float64) + state[f"linear_{i}.bias"]
        if i < n:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-h[:, 0]))


def test_nsfw_head_loads_a_laion_port_state_dict_and_matches_a_numpy_forward(tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(7)
    state = _laion_port_state_dict(rng)
    x = rng.normal(size=(8, 768))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # L2-normalised CLIP embeddings
    # centre the output bias on these inputs so that both decisions occur
    logits = np.log(1 / _numpy_head(state, x) - 1) * -1
    state["linear_4.bias"] = (state["linear_4.bias"] - np.median(logits)).astype(np.float32)
    save_file(state, str(tmp_path / "model.safetensors"))
    head = load_nsfw_head(str(tmp_path))  # the defaults are LAION's ViT-L/14 head: 768 → 64 → 512 → 256 → 1
    with torch.inference_mode():
        got = head(torch.from_numpy(x.astype(np.float32))).double().numpy()
    want = _numpy_head(state, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert want.min() < 0.5 < want.max()  # the check covers both decisions
    with pytest.raises(ValueError, match="do not fit"):  # a head of another shape is refused, not half-loaded
        load_nsfw_head(str(tmp_path / "model.safetensors"), hidden_sizes=(64, 512))


def test_nsfw_head_with_hand_set_weights_gives_the_hand_computed_probability(tmp_path):
    """2-d input, one hidden layer of 2, values chosen so the forward can be done on paper:
    x = (0.6, 0.8); (x - mean) / sqrt(var) = (0.5 / 0.5, 0.6 / 0.2) = (1, 3);
    linear_1: (1 + 3, 1 - 3) = (4, -2) → ReLU (4, 0); linear_2: 0.5 * 4 + 3 * 0 - 1 = 1;
    sigmoid(1) = 0.7310585786. With x = (0.1, 0.2): (0, 0) → (0, 0) → -1 → sigmoid(-1) = 0.2689414214."""
    from safetensors.numpy import save_file

    state = {"norm.mean": np.array([0.1, 0.2], np.float32), "norm.variance": np.array([0.25, 0.04], np.float32),
             "linear_1.weight": np.array([[1.0, 1.0], [1.0, -1.0]], np.float32),
             "linear_1.bias": np.zeros(2, np.float32),
             "linear_2.weight": np.array([[0.5, 3.0]], np.float32), "linear_2.bias": np.array([-1.0], np.float32)}
    save_file(state, str(tmp_path / "nsfw.safetensors"))
    head = load_nsfw_head(str(tmp_path), input_dim=2, hidden_sizes=(2,))
    with torch.inference_mode():
        p = head(torch.tensor([[0.6, 0.8], [0.1, 0.2]])).tolist()
    assert p == pytest.approx([0.7310585786, 0.2689414214], abs=1e-6)
    # at the card's threshold (p >= 0.5 removed) the first is NSFW, the second is kept
    assert [v >= 0.5 for v in p] == [True, False]


def test_nsfw_filter_runs_on_the_tiny_clip_with_a_random_head_from_config():
    step = NsfwFilter({"type": "tiny"}, {"seed": 0, "hidden_sizes": [8], "random": True}, threshold=1.01)
    docs = [Document(text="", id=f"d{i}", media=[Media(id="m", type=MediaType.IMAGE, url="u", media_bytes=b)])
            for i, b in enumerate(_images(3, 40, 40))]
    out = list(step.run(iter(docs)))
    assert len(out) == 3 and all(0.0 <= d.media[0].metadata["nsfw"] <= 1.0 for d in out)
    assert step.detector.head.input_dim == 16  # inferred from the tiny CLIP's embedding size


def test_tiny_open_clip_scorer_is_an_open_clip_model():
    s = tiny_open_clip_scorer(seed=0)
    import open_clip

    assert isinstance(s.model, open_clip.CLIP)
    assert s.transform.size == (32, 32)
