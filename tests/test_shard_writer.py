"""The dataset writer: round trips through `datasets`, atomic/resumable shards, bad input."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import signal
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import datasets
import pytest
from huggingface_hub import DatasetCard
from PIL import Image

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.schema import INSTRUCT, INTERLEAVED, PAIRS, InvalidSample
from dataset_builders.shard_writer import ShardWriter
from model_cards.dataset_card import DatasetCardInfo
from tests.process_helpers import grows_by, run_until

REPO = Path(__file__).resolve().parents[1]
INFO = DatasetCardInfo(pretty_name="test", description="test dataset")

# Distinct colours so every image can be recognised after a JPEG round trip.
COLOURS = [(230, 25, 25), (25, 200, 40), (30, 60, 230), (240, 220, 20), (200, 30, 220), (20, 220, 220)]


def solid(colour, size=(64, 48)) -> Image.Image:
    return Image.new("RGB", size, colour)


def colour_index(img: Image.Image) -> int:
    """Which of COLOURS a decoded (JPEG-compressed) solid image is."""
    px = img.convert("RGB").resize((1, 1)).getpixel((0, 0))
    return min(range(len(COLOURS)), key=lambda i: sum((a - b) ** 2 for a, b in zip(px, COLOURS[i], strict=True)))


def jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    return buf.getvalue()


def load_both(folder: Path) -> tuple[list[dict], list[dict]]:
    ds = datasets.load_dataset(str(folder), split="train")
    stream = datasets.load_dataset(str(folder), split="train", streaming=True)
    return list(ds), list(stream)


def interleaved_sample(i: int, n_images: int) -> dict:
    sample = {
        "__key__": f"doc{i:04d}",
        "json": {
            "texts": [f"これは{i}番目の文書の{j}文目です。" for j in range(6)],
            "image_positions": sorted(random.Random(i).sample(range(6), n_images)),
            "image_urls": [f"http://example.invalid/{i}/{k}.jpg" for k in range(n_images)],
            "source_url": f"http://example.invalid/{i}.html",
        },
    }
    for k in range(n_images):
        sample[f"{k}.jpg"] = solid(COLOURS[k])
    return sample


def test_pairs_round_trip(tmp_path):
    rows = []
    with ShardWriter(tmp_path, PAIRS, max_samples=4) as w:
        for i in range(10):
            size = (60 + i, 40 + i)
            image = solid(COLOURS[i % len(COLOURS)], size)
            # bytes (JPEG kept as is) and PIL images are both accepted
            w.write({"__key__": f"p{i:03d}", "jpg": jpeg_bytes(image) if i % 2 else image, "txt": f"赤い花の写真 {i}",
                     "json": {"url": f"http://example.invalid/{i}.jpg", "width": size[0], "height": size[1]}})
            rows.append((f"p{i:03d}", f"赤い花の写真 {i}", size, i % len(COLOURS)))
    finalize_dataset(tmp_path, PAIRS, INFO)
    assert len(list((tmp_path / "data").glob("*.tar"))) == 3  # 4 + 4 + 2
    for loaded in load_both(tmp_path):
        assert [(r["__key__"], r["txt"], r["jpg"].size, colour_index(r["jpg"])) for r in loaded] == rows
        assert all(isinstance(r["jpg"], Image.Image) for r in loaded)
        # every declared field loads; the ones a sample does not set are None
        assert loaded[3]["json"] == {**dict.fromkeys(PAIRS.json_fields), "url": "http://example.invalid/3.jpg",
                                     "width": 63, "height": 43}


def test_interleaved_round_trip_two_to_five_images_in_order(tmp_path):
    # the first five samples all have 2 images: without declared features `datasets` would
    # infer two image columns from them and fail (or drop) the later 3/4/5-image samples
    counts = [2, 2, 2, 2, 2, 3, 4, 5, 5, 3, 2]
    with ShardWriter(tmp_path, INTERLEAVED) as w:
        for i, n in enumerate(counts):
            w.write(interleaved_sample(i, n))
    finalize_dataset(tmp_path, INTERLEAVED, INFO)
    for loaded in load_both(tmp_path):
        assert len(loaded) == len(counts)
        for i, (row, n) in enumerate(zip(loaded, counts, strict=True)):
            slots = [row[f"{k}.jpg"] for k in range(5)]
            assert [colour_index(img) for img in slots[:n]] == list(range(n)), "images out of order"
            assert slots[n:] == [None] * (5 - n), "empty slots must load as None"
            assert row["json"]["image_positions"] == interleaved_sample(i, n)["json"]["image_positions"]
            assert row["json"]["texts"][0] == f"これは{i}番目の文書の0文目です。"


def test_instruct_round_trip(tmp_path):
    conv = [
        {"role": "user", "content": "<image>\nこの写真には何が写っていますか？"},
        {"role": "assistant", "content": "赤いりんごが写っています。"},
        {"role": "user", "content": "いくつありますか？"},
        {"role": "assistant", "content": "三つです。"},
    ]
    with ShardWriter(tmp_path, INSTRUCT) as w:
        for i in range(3):
            w.write({"__key__": f"c{i}", "jpg": solid(COLOURS[i]), "json": {"conversations": conv[: 2 + 2 * (i % 2)], "task": "conv", "source": "test"}})
    finalize_dataset(tmp_path, INSTRUCT, INFO)
    for loaded in load_both(tmp_path):
        assert [len(r["json"]["conversations"]) for r in loaded] == [2, 4, 2]
        assert loaded[1]["json"]["conversations"] == conv
        assert [colour_index(r["jpg"]) for r in loaded] == [0, 1, 2]


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ({"__key__": "a.b", "jpg": solid(COLOURS[0]), "txt": "猫"}, "bad_key"),
        ({"__key__": "a/b", "jpg": solid(COLOURS[0]), "txt": "猫"}, "bad_key"),
        ({"__key__": "nojpg", "txt": "猫"}, "missing_image"),
        ({"__key__": "notext", "jpg": solid(COLOURS[0]), "txt": "  "}, "missing_text"),
        ({"__key__": "trunc", "jpg": jpeg_bytes(solid(COLOURS[0], (400, 300)))[:300], "txt": "猫"}, "image_undecodable"),
        ({"__key__": "html", "jpg": b"<!doctype html><html>not an image</html>", "txt": "猫"}, "image_not_an_image"),
        ({"__key__": "extra", "jpg": solid(COLOURS[0]), "txt": "猫", "png": b"x"}, "unknown_member"),
        ({"__key__": "meta", "jpg": solid(COLOURS[0]), "txt": "猫", "json": {"clip": 0.3}}, "undeclared_json_field"),
        ({"__key__": "types", "jpg": solid(COLOURS[0]), "txt": "猫", "json": {"width": "wide"}}, "bad_json"),
    ],
)
def test_bad_pairs_input_raises_clear_error_or_is_counted(tmp_path, sample, reason):
    with ShardWriter(tmp_path / "strict", PAIRS, on_invalid="raise") as w, pytest.raises(InvalidSample) as e:
        w.write(sample)
    assert e.value.reason == reason
    assert sample["__key__"] in str(e.value) or reason == "bad_key"

    with ShardWriter(tmp_path / "lenient", PAIRS) as w:
        assert w.write(sample) is False
        assert w.write({"__key__": "good", "jpg": solid(COLOURS[1]), "txt": "犬"}) is True
    stats = finalize_dataset(tmp_path / "lenient", PAIRS, INFO)
    assert stats["funnel"] == [{"stage": "write_shards", "input": 2, "kept": 1, "dropped": {reason: 1}}]
    loaded = datasets.load_dataset(str(tmp_path / "lenient"), split="train")
    assert [r["__key__"] for r in loaded] == ["good"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s.update({"json": {**s["json"], "image_positions": [0]}}), "bad_image_positions"),
        (lambda s: s.update({"json": {**s["json"], "image_positions": [3, 1]}}), "bad_image_positions"),
        (lambda s: s.update({"json": {**s["json"], "image_positions": [0, 9]}}), "bad_image_positions"),
        (lambda s: s.pop("0.jpg"), "image_slot_gap"),
        (lambda s: s.update({"json": {**s["json"], "texts": []}}), "missing_text"),
    ],
)
def test_bad_interleaved_input(tmp_path, change, reason):
    sample = interleaved_sample(0, 2)
    change(sample)
    with ShardWriter(tmp_path, INTERLEAVED, on_invalid="raise") as w, pytest.raises(InvalidSample) as e:
        w.write(sample)
    assert e.value.reason == reason


def test_bad_conversations_are_refused(tmp_path):
    bad = [
        [{"role": "assistant", "content": "はい"}],
        [{"role": "user", "content": "質問"}],
        [{"role": "user", "content": "質問"}, {"role": "user", "content": "質問"}, {"role": "assistant", "content": "答え"}],
        [{"role": "user", "content": "質問"}, {"role": "assistant", "content": ""}],
    ]
    with ShardWriter(tmp_path, INSTRUCT) as w:
        for i, conv in enumerate(bad):
            assert not w.write({"__key__": f"c{i}", "jpg": solid(COLOURS[0]), "json": {"conversations": conv}})
    assert w.counts["dropped_bad_conversation"] == len(bad)


def test_duplicate_key_dropped_and_shards_deterministic(tmp_path):
    def write(folder):
        with ShardWriter(folder, PAIRS, max_samples=3) as w:
            for i in range(7):
                w.write({"__key__": f"k{i % 5}", "jpg": solid(COLOURS[i % 6]), "txt": f"テキスト{i}"})
        return w

    w = write(tmp_path / "a")
    write(tmp_path / "b")
    assert w.counts["dropped_duplicate_key"] == 2
    digests = [
        {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((tmp_path / d / "data").glob("*.tar"))}
        for d in "ab"
    ]
    assert digests[0] == digests[1] and len(digests[0]) == 2


def test_byte_limit_splits_shards_and_big_sample_stands_alone(tmp_path):
    big = Image.effect_noise((600, 600), 80).convert("RGB")  # noise: JPEG cannot shrink it much
    with ShardWriter(tmp_path, PAIRS, max_bytes=40_000) as w:
        for i in range(4):
            w.write({"__key__": f"s{i}", "jpg": solid(COLOURS[i]), "txt": "小さい"})
        w.write({"__key__": "big", "jpg": big, "txt": "大きい"})
        w.write({"__key__": "after", "jpg": solid(COLOURS[5]), "txt": "小さい"})
    shards = sorted((tmp_path / "data").glob("*.tar"))
    members = []
    for p in shards:
        with tarfile.open(p) as tf:
            members.append(tf.getnames())
    assert members[-2] == ["big.jpg", "big.txt", "big.json"]
    assert all(os.path.getsize(p) <= 40_000 + 10_240 for p, names in zip(shards, members, strict=True) if "big.jpg" not in names)


def test_two_ranks_merge_into_one_funnel(tmp_path):
    for rank in range(2):
        with ShardWriter(tmp_path, PAIRS, rank=rank) as w:
            for i in range(3):
                w.write({"__key__": f"r{rank}i{i}", "jpg": solid(COLOURS[i]), "txt": "猫"})
            w.write({"__key__": f"bad{rank}", "txt": "猫"})
    stats = finalize_dataset(tmp_path, PAIRS, INFO)
    assert stats["samples"] == 6 and stats["tasks"] == 2
    assert stats["funnel"][-1] == {"stage": "write_shards", "input": 8, "kept": 6, "dropped": {"missing_image": 2}}
    assert {p.name for p in (tmp_path / "data").glob("*.tar")} == {"train-00000-00000.tar", "train-00001-00000.tar"}
    assert len(datasets.load_dataset(str(tmp_path), split="train")) == 6


def test_card_declares_features_and_matches_stats(tmp_path):
    with ShardWriter(tmp_path, INTERLEAVED) as w:
        for i in range(3):
            w.write(interleaved_sample(i, 2 + i))
        w.write({"__key__": "bad.key"})
    stats = finalize_dataset(tmp_path, INTERLEAVED, INFO)
    card = DatasetCard.load(tmp_path / "README.md", ignore_metadata_errors=False)  # parsed as the Hub parses it
    data = card.data.to_dict()
    assert data["language"] == ["ja"] and data["size_categories"] == ["n<1K"]
    assert data["configs"][0]["data_files"][0]["path"] == "data/*.tar"
    declared = [f["name"] for f in data["dataset_info"]["features"]]
    assert declared == ["__key__", "__url__", "0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg", "json"]
    assert json.loads((tmp_path / "stats.json").read_text())["funnel"] == stats["funnel"]
    assert "| write_shards | 4 | 3 | bad_key: 1 |" in card.text


# -- killed writes ------------------------------------------------------------------------------

WRITER_SCRIPT = """
import sys, time
from PIL import Image
from dataset_builders.schema import PAIRS
from dataset_builders.shard_writer import ShardWriter
out, n, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
with ShardWriter(out, PAIRS, max_samples=7) as w:
    for i in range(n):
        w.write({"__key__": f"s{i:04d}", "jpg": Image.new("RGB", (40 + i % 50, 30), (i % 256, 0, 0)), "txt": f"画像{i}"})
        time.sleep(delay)
"""


def run_writer(out: Path, n: int, delay: float, kill_when: Callable[[], bool] | None = None) -> int:
    """Run the writer script in its own session; kill its group when ``kill_when()`` becomes true."""
    cmd = [sys.executable, "-c", WRITER_SCRIPT, str(out), str(n), str(delay)]
    _, proc = run_until(cmd, kill_when or (lambda: False), deadline_s=120, cwd=REPO)
    return proc.returncode


def final_shards(out: Path) -> int:
    return len(list((out / "data").glob("*.tar"))) if (out / "data").is_dir() else 0


def open_shard_bytes(out: Path, since: float) -> int:
    """Bytes in the shard being written (``*.tar.tmp`` written after ``since``: not a killed run's leftover)."""
    total = 0
    for p in (out / "data").glob("*.tmp") if (out / "data").is_dir() else []:
        with contextlib.suppress(FileNotFoundError):  # renamed while we looked
            st = p.stat()
            total += st.st_size if st.st_mtime >= since else 0
    return total


def assert_complete_shards_only(folder: Path) -> set[str]:
    """Every file under a final shard name is a readable tar of whole samples; returns the keys."""
    keys: list[str] = []
    for shard in (folder / "data").glob("*.tar"):
        with tarfile.open(shard) as tf:
            names = tf.getnames()
        by_key: dict[str, set[str]] = {}
        for name in names:
            key, ext = name.split(".", 1)
            by_key.setdefault(key, set()).add(ext)
        assert all(exts == {"jpg", "txt", "json"} for exts in by_key.values()), f"partial sample in {shard.name}"
        keys.extend(by_key)
    assert len(keys) == len(set(keys)), "a sample was written twice"
    return set(keys)


def test_killed_writes_leave_no_partial_shard_and_resume_without_duplicates(tmp_path):
    n = 120
    out = tmp_path / "killed"
    # kills right after a shard is renamed into place, and in the middle of an open shard
    def mid_shard(n_bytes: int) -> Callable[[], bool]:
        since = time.time()
        return lambda: open_shard_bytes(out, since) >= n_bytes

    events = [lambda: grows_by(lambda: final_shards(out), 1), lambda: mid_shard(8000),
              lambda: grows_by(lambda: final_shards(out), 2), lambda: mid_shard(2000),
              lambda: grows_by(lambda: final_shards(out), 1)]
    progress = []
    for make_event in events:
        assert run_writer(out, n, delay=0.004, kill_when=make_event()) == -signal.SIGKILL
        progress.append(len(assert_complete_shards_only(out)))
    assert progress == sorted(progress) and 0 < progress[-1] < n, progress  # killed mid-run, every time
    assert run_writer(out, n, delay=0) == 0
    keys = assert_complete_shards_only(out)
    assert keys == {f"s{i:04d}" for i in range(n)}  # no gaps, no duplicates
    assert not list((out / "data").glob("*.tmp"))

    reference = tmp_path / "reference"
    run_writer(reference, n, delay=0)
    loaded = {r["__key__"]: r["txt"] for r in datasets.load_dataset(str(out), split="train")}
    expected = {r["__key__"]: r["txt"] for r in datasets.load_dataset(str(reference), split="train")}
    assert loaded == expected


def test_resume_skips_committed_samples(tmp_path):
    with ShardWriter(tmp_path, PAIRS, max_samples=2) as w:
        for i in range(4):
            w.write({"__key__": f"s{i}", "jpg": solid(COLOURS[i]), "txt": "猫"})
    # a killed run leaves a temporary shard behind
    (tmp_path / "data" / "train-00000-00002.tar.tmp").write_bytes(b"partial")
    with ShardWriter(tmp_path, PAIRS, max_samples=2) as w:
        assert w.done_keys == {"s0", "s1", "s2", "s3"}
        for i in range(6):
            assert w.write({"__key__": f"s{i}", "jpg": solid(COLOURS[i]), "txt": "猫"})
    assert w.counts["already_written"] == 4 and w.counts["written"] == 2
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "train-00000-00000.tar", "train-00000-00001.tar", "train-00000-00002.tar"]
    assert assert_complete_shards_only(tmp_path) == {f"s{i}" for i in range(6)}


def test_decompression_bomb_is_refused_as_too_many_pixels():
    from dataset_builders.images import ImageError, decode_image

    buf = io.BytesIO()
    Image.new("L", (20_000, 20_000)).save(buf, "PNG")  # small file, 400M pixels
    with pytest.raises(ImageError) as e:
        decode_image(buf.getvalue())
    assert e.value.reason == "too_many_pixels"
    with pytest.raises(ImageError) as e:
        decode_image(jpeg_bytes(solid(COLOURS[0], (300, 300))), max_pixels=1000)
    assert e.value.reason == "too_many_pixels"
