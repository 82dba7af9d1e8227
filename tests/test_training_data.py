"""Training data path: shards → rendered rows (labels, exact lengths) → packing → mixture → batches."""

from __future__ import annotations

import io
import itertools
from collections import Counter

import pytest
import torch
from PIL import Image

from dataset_builders.tiny.models import TinyLlavaSpec, tiny_llava
from training.chat_template import SYSTEM_PROMPT
from training.data import DataSource, Renderer, VilaCollator, VilaStream
from training.data.packing import pack
from training.data.render import IGNORE_INDEX, SkipSample
from training.data.shards import expand_shards, iter_samples
from training.data.synthetic import write_instruct, write_interleaved, write_pairs


@pytest.fixture(scope="module")
def tiny():
    model, processor = tiny_llava(seed=0, spec=TinyLlavaSpec())
    return model, processor


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    return {
        "pairs": write_pairs(root / "pairs", n=12),
        "interleaved": write_interleaved(root / "interleaved", n=6),
        "instruct": write_instruct(root / "instruct", n=9),
    }


def _jpeg(colour=(255, 0, 0)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _renderer(processor, image_tokens=4, max_length=512) -> Renderer:
    return Renderer(processor.tokenizer, image_tokens, max_length)


def test_step2_sample_has_labels_exactly_on_the_assistant_answers_and_eos(tiny):
    _, processor = tiny
    tok = processor.tokenizer
    r = _renderer(processor, image_tokens=4)
    turns = [
        {"role": "user", "content": "<image>\nこの画像は何色ですか？"},
        {"role": "assistant", "content": "赤です。"},
        {"role": "user", "content": "本当？"},
        {"role": "assistant", "content": "はい、赤色です。"},
    ]
    row = r.render({"__key__": "k", "jpg": _jpeg(), "json": {"conversations": turns}})
    ids, labels = row.input_ids, row.labels
    text = tok.decode(ids)
    assert text.startswith(f"<s>{SYSTEM_PROMPT}\n\n### 指示:\n<image><image><image><image>\nこの画像は何色ですか？\n\n### 応答:\n")
    assert ids.count(tok.convert_tokens_to_ids("<image>")) == 4
    # labelled positions form two spans, each exactly "answer</s>"
    spans, current = [], []
    for t, label in zip(ids, labels, strict=True):
        if label != IGNORE_INDEX:
            assert label == t
            current.append(t)
        elif current:
            spans.append(current)
            current = []
    if current:
        spans.append(current)
    assert [tok.decode(s) for s in spans] == ["赤です。</s>", "はい、赤色です。</s>"]
    image_id = tok.convert_tokens_to_ids("<image>")
    assert all(label == IGNORE_INDEX for t, label in zip(ids, labels, strict=True) if t == image_id)


def test_pairs_render_plain_and_interleaved_puts_images_after_their_sentences(tiny):
    _, processor = tiny
    tok = processor.tokenizer
    r = _renderer(processor, image_tokens=1)
    pair = r.render({"__key__": "p", "jpg": _jpeg(), "txt": " 赤い車 ", "json": {}})
    assert tok.decode(pair.input_ids) == "<s><image>赤い車\n"
    assert tok.decode([t for t in pair.labels if t != IGNORE_INDEX]) == "赤い車\n"
    doc = {
        "__key__": "d", "0.jpg": _jpeg(), "1.jpg": _jpeg((0, 0, 255)),
        "json": {"texts": ["一文目。", "二文目。", "三文目。"], "image_positions": [0, 2]},
    }
    row = r.render(doc)
    assert tok.decode(row.input_ids) == "<s>一文目。<image>二文目。三文目。<image></s>"
    assert tok.decode([t for t in row.labels if t != IGNORE_INDEX]) == "一文目。二文目。三文目。</s>"
    assert len(row.images) == 2


def test_length_is_exact_with_729_image_tokens_and_long_samples_are_dropped(tiny):
    _, processor = tiny
    tok = processor.tokenizer
    caption = "猫が窓辺で寝ている。"
    n_text = len(tok(f"<s>{caption}\n", add_special_tokens=False)["input_ids"])
    fits = Renderer(tok, 729, max_length=729 + n_text)
    row = fits.render({"__key__": "p", "jpg": _jpeg(), "txt": caption, "json": {}})
    assert len(row) == 729 + n_text
    assert row.input_ids.count(tok.convert_tokens_to_ids("<image>")) == 729
    too_short = Renderer(tok, 729, max_length=729 + n_text - 1)
    with pytest.raises(SkipSample) as e:
        too_short.render({"__key__": "p", "jpg": _jpeg(), "txt": caption, "json": {}})
    assert e.value.reason == "too_long"


def test_stream_counts_dropped_samples_by_reason(tiny, data):
    _, processor = tiny
    stream = VilaStream([DataSource(str(data["instruct"]))], Renderer(processor.tokenizer, 4, 120), repeat=False)
    rows = list(stream)
    assert stream.stats["read/instruct"] == 9
    assert stream.stats["dropped/instruct/too_long"] == 3  # the two-turn conversations exceed 120 tokens
    assert stream.stats["kept/instruct"] == len(rows) == 9 - stream.stats["dropped/instruct/too_long"]
    assert stream.stats["samples/instruct"] == len(rows)
    assert stream.stats["tokens/instruct"] == sum(len(r["input_ids"]) for r in rows)
    assert all(len(r["input_ids"]) <= 120 for r in rows)


def test_shards_stream_in_order_and_bad_paths_name_the_fix(data, tmp_path):
    shards = expand_shards(data["pairs"])
    assert len(shards) == 2 and shards == sorted(shards)  # 12 samples, 10 per shard
    keys = [s["__key__"] for s in iter_samples(shards)]
    assert keys == [f"pair{i:05d}" for i in range(12)]
    assert expand_shards("hf://datasets/org/ja-pairs/data/train-00000-00000.tar") == [
        "hf://datasets/org/ja-pairs/data/train-00000-00000.tar"
    ]
    with pytest.raises(FileNotFoundError, match="hf://"):
        expand_shards(tmp_path / "nothing")


def test_mixture_follows_the_weights_and_is_deterministic(tiny, data):
    _, processor = tiny
    r = Renderer(processor.tokenizer, 4, 512)
    sources = [DataSource(str(data["pairs"]), 3.0, "pairs"), DataSource(str(data["instruct"]), 1.0, "instruct")]
    stream = VilaStream(sources, r, seed=1, repeat=True)
    first = list(itertools.islice(iter(stream), 400))
    assert stream.stats["read/pairs"] / stream.stats["read/instruct"] == pytest.approx(3.0, rel=0.25)
    again = list(itertools.islice(iter(VilaStream(sources, r, seed=1, repeat=True)), 400))
    assert [x["input_ids"] for x in first] == [x["input_ids"] for x in again]
    other = list(itertools.islice(iter(VilaStream(sources, r, seed=2, repeat=True)), 400))
    assert [x["input_ids"] for x in first] != [x["input_ids"] for x in other]
    assert DataSource.parse("mmc4=hf://datasets/org/mmc4/data/x.tar@0.5") == DataSource(
        "hf://datasets/org/mmc4/data/x.tar", 0.5, "mmc4"
    )


def test_packing_keeps_samples_whole_and_gives_the_same_loss_as_unpacked_batches(tiny, data):
    model, processor = tiny
    r = Renderer(processor.tokenizer, model.config.image_seq_length, 256)
    rows = list(VilaStream([DataSource(str(data["instruct"]))], r, repeat=False).samples())[:4]
    packed = list(pack(rows, max_length=256, buffer_size=4))
    assert len(packed) < len(rows)
    assert sum(len(p.seq_lengths) for p in packed) == len(rows)
    assert all(len(p) <= 256 for p in packed)
    collate = VilaCollator(processor.image_processor, processor.tokenizer.pad_token_id, model.config.image_token_id,
                           model.config.image_seq_length)
    unpacked_batch = collate([x.as_dict() for x in rows])
    packed_batch = collate([p.as_dict() for p in packed])
    assert "attention_mask" not in packed_batch and "position_ids" in packed_batch
    pos = packed_batch["position_ids"][0].tolist()
    assert pos.count(0) >= len(packed[0].seq_lengths)  # restarts per sample
    n_labels = lambda b: int((b["labels"] != IGNORE_INDEX).sum())  # noqa: E731
    assert n_labels(unpacked_batch) == n_labels(packed_batch)
    with torch.no_grad():
        loss_unpacked = model(**unpacked_batch).loss
        loss_packed = model(**packed_batch).loss
    torch.testing.assert_close(loss_packed, loss_unpacked, atol=1e-5, rtol=1e-5)


def test_collator_gives_a_vision_pass_to_a_batch_without_images(tiny):
    model, processor = tiny
    collate = VilaCollator(processor.image_processor, processor.tokenizer.pad_token_id, model.config.image_token_id,
                           model.config.image_seq_length)
    rows = [{"input_ids": [1, 300, 301, 2], "labels": [-100, 300, 301, 2], "images": []},
            {"input_ids": [1, 302, 2], "labels": [-100, 302, 2], "images": []}]
    batch = collate(rows)
    assert batch["pixel_values"].shape[0] == 1
    assert int((batch["input_ids"] == model.config.image_token_id).sum()) == model.config.image_seq_length
    assert int((batch["labels"] != IGNORE_INDEX).sum()) == 5  # the dummy carries no label
    calls = Counter()
    hook = model.model.vision_tower.register_forward_hook(lambda *a: calls.update(["vision"]))
    try:
        with torch.no_grad():
            out = model(**batch)
    finally:
        hook.remove()
    assert calls["vision"] == 1
    with torch.no_grad():  # the dummy does not change the real rows' logits
        alone = model(input_ids=torch.tensor([[1, 300, 301, 2]])).logits
    torch.testing.assert_close(out.logits[0, :4], alone[0], atol=1e-5, rtol=1e-5)


def _doc(n_sentences: int, image_after: list[int]) -> dict:
    sample = {"__key__": "long", "json": {"texts": [f"{i}番目の文です。" for i in range(n_sentences)],
                                          "image_positions": image_after}}
    for k in range(len(image_after)):
        sample[f"{k}.jpg"] = _jpeg((k * 40, 0, 0))
    return sample


def test_a_long_document_keeps_its_longest_prefix_of_whole_sentences_with_their_images(tiny):
    _, processor = tiny
    tok = processor.tokenizer
    image_id = tok.convert_tokens_to_ids("<image>")
    doc = _doc(12, [1, 4, 8, 10])
    whole = Renderer(tok, 4, 10_000).render(doc)
    assert not whole.truncated and len(whole.images) == 4
    limit = len(whole) // 2
    cut = Renderer(tok, 4, limit).render(doc)
    assert cut.truncated and len(cut) <= limit
    n_images = cut.input_ids.count(image_id) // 4
    assert 1 <= n_images < 4 and cut.images == whole.images[:n_images]  # every kept image has all 4 tokens
    text = tok.decode(cut.input_ids)
    assert text.startswith("<s>0番目の文です。1番目の文です。<image><image><image><image>") and "</s>" not in text
    kept = text.count("番目の文です。")
    assert text.endswith(f"{kept - 1}番目の文です。") or text.endswith("<image>")  # whole sentences only
    assert all(label == IGNORE_INDEX for t, label in zip(cut.input_ids, cut.labels, strict=True) if t == image_id)
    # one sentence longer than the limit before the first image: nothing with an image fits
    with pytest.raises(SkipSample) as e:
        Renderer(tok, 4, 12).render(_doc(3, [2]))
    assert e.value.reason == "too_long"


def test_images_fill_their_placeholders_in_text_order(tiny):
    _, processor = tiny
    a, b = _jpeg((255, 0, 0)), _jpeg((0, 0, 255))
    doc = {"__key__": "d", "0.jpg": a, "1.jpg": b,
           "json": {"texts": ["一文目。", "二文目。", "三文目。"], "image_positions": [2, 0]}}
    row = _renderer(processor, image_tokens=1).render(doc)
    assert processor.tokenizer.decode(row.input_ids) == "<s>一文目。<image>二文目。三文目。<image></s>"
    assert row.images == [b, a]  # image 1 belongs after sentence 0, so it comes first


def test_without_assistant_only_loss_the_whole_conversation_carries_labels(tiny):
    _, processor = tiny
    turns = [{"role": "user", "content": "<image>\n何色？"}, {"role": "assistant", "content": "赤です。"}]
    sample = {"__key__": "k", "jpg": _jpeg(), "json": {"conversations": turns}}
    answers = Renderer(processor.tokenizer, 4, 512, assistant_only_loss=True).render(sample)
    everything = Renderer(processor.tokenizer, 4, 512, assistant_only_loss=False).render(sample)
    n = lambda r: sum(label != IGNORE_INDEX for label in r.labels)  # noqa: E731
    image_id = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert n(answers) == len(processor.tokenizer("赤です。</s>", add_special_tokens=False)["input_ids"])
    assert n(everything) == len(everything) - 1 - everything.input_ids.count(image_id)  # all but BOS and images


def test_padding_free_concatenates_the_micro_batch_and_keeps_the_loss(tiny, data):
    model, processor = tiny
    r = Renderer(processor.tokenizer, model.config.image_seq_length, 256)
    rows = [x.as_dict() for x in itertools.islice(VilaStream([DataSource(str(data["instruct"]))], r).samples(), 3)]
    args = (processor.image_processor, processor.tokenizer.pad_token_id, model.config.image_token_id,
            model.config.image_seq_length)
    padded = VilaCollator(*args)(rows)
    flat = VilaCollator(*args, padding_free=True)(rows)
    assert flat["input_ids"].shape == (1, sum(len(x["input_ids"]) for x in rows)) and "attention_mask" not in flat
    assert int((flat["input_ids"] == processor.tokenizer.pad_token_id).sum()) == 0
    with torch.no_grad():
        torch.testing.assert_close(model(**flat).loss, model(**padded).loss, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("packing", [False, True], ids=["unpacked", "packed"])
def test_a_stream_restored_from_a_snapshot_continues_without_reading_the_past(tiny, data, tmp_path, monkeypatch,
                                                                               packing):
    from training.data.position import StreamSnapshots, load_state

    _, processor = tiny
    sources = [DataSource(str(data["pairs"]), 2.0, "pairs"), DataSource(str(data["interleaved"]), 1.0, "docs")]
    r = Renderer(processor.tokenizer, 4, 128)
    stream = VilaStream(sources, r, packing=packing, seed=3, pack_buffer=3)
    stream.snapshots = StreamSnapshots(tmp_path, rows_per_step=4, save_at=lambda step: step == 5)
    full = list(itertools.islice(iter(stream), 32))
    state = load_state(tmp_path / "step-5.pt")
    assert state["rows"] == 20 and state["step"] == 5
    renders = Counter()
    real_render = Renderer.render
    monkeypatch.setattr(Renderer, "render", lambda self, s: renders.update([s["__key__"]]) or real_render(self, s))
    again = VilaStream(sources, r, packing=packing, seed=3, pack_buffer=3)
    again.load_state_dict(state)
    rest = list(itertools.islice(iter(again), 12))
    assert [x["input_ids"] for x in rest] == [x["input_ids"] for x in full[20:]]
    assert [x["images"] for x in rest] == [x["images"] for x in full[20:]]
    assert sum(renders.values()) <= sum(len(x["seq_lengths"]) for x in rest) + 1  # nothing of rows 1-20 again
    assert again.stats["rows"] == 32 and again.describe(state).startswith("row 20; pairs: pass ")
    with pytest.raises(ValueError, match="--seed"):
        VilaStream(sources, r, packing=packing, seed=4).load_state_dict(state)


def test_a_source_that_gives_nothing_is_an_error_and_nothing_usable_at_all_fails_fast(tiny, data):
    _, processor = tiny
    docs_too_long = Renderer(processor.tokenizer, 40, 54)  # 40 tokens per image: every pair fits, no document
    mixed = VilaStream([DataSource(str(data["pairs"]), 1.0, "pairs"), DataSource(str(data["interleaved"]), 1.0, "docs")],
                       docs_too_long, repeat=True)
    rows = 0
    with pytest.raises(ValueError, match=r"data source 'docs' .*whole pass over its 6 sample\(s\); dropped by reason: "
                                         r"too_long 6") as e:
        for _ in mixed:
            rows += 1
    assert "pairs" not in str(e.value) and 0 < rows <= 12  # named once its first pass is over
    many = VilaStream([DataSource(str(data["pairs"]), 1.0, "pairs"), DataSource(str(data["interleaved"]), 1.0, "docs")],
                      Renderer(processor.tokenizer, 40, 8), give_up_after=5)
    with pytest.raises(ValueError, match=r"(?s)5 samples read, none usable.*pairs .*too_long.*docs .*too_long"):
        next(iter(many))  # before any source finishes a pass


def test_an_undecodable_json_member_is_counted_each_pass_and_the_stream_goes_on(tiny, tmp_path):
    import tarfile

    _, processor = tiny
    shard = tmp_path / "bad" / "data" / "shard-00000.tar"
    shard.parent.mkdir(parents=True)
    with tarfile.open(shard, "w") as tar:
        for i, (caption, meta) in enumerate([("赤い画像です。", b"{}"), ("青い画像です。", b"{not json"),
                                             ("緑の画像です。", b"{}")]):
            for ext, data in (("jpg", _jpeg()), ("txt", caption.encode()), ("json", meta)):
                info = tarfile.TarInfo(f"s{i}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    stream = VilaStream([DataSource(str(shard.parent.parent), name="bad")], Renderer(processor.tokenizer, 4, 64))
    rows = list(itertools.islice(iter(stream), 8))  # 4 passes of 2 usable samples
    assert len(rows) == 8 and stream.stats["dropped/bad/bad_json"] >= 3 and stream.stats["passes/bad"] >= 3
