"""Small dataset folders of the three schemas, written with the project's own writer, for the
release and preview tests; texts carry HTML/script fragments (web text is hostile) and every image
is one distinctive solid colour, so a test can tell which image ended up where."""

from __future__ import annotations

from pathlib import Path

from datasets import List, Value
from PIL import Image

from dataset_builders.dataset_folder import finalize_dataset, merge_rank_stats
from dataset_builders.funnel import Funnel
from dataset_builders.schema import INSTRUCT, INTERLEAVED, PAIRS
from dataset_builders.shard_writer import ShardWriter
from model_cards.dataset_card import DatasetCardInfo

NASTY = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
#: Saturated colours no stylesheet uses: image i of a fixture is COLORS[i % len(COLORS)].
COLORS = [(255, 0, 200), (0, 200, 255), (255, 140, 0), (60, 220, 60), (120, 40, 255), (230, 230, 0), (0, 120, 90)]

PAIRS_SCHEMA = PAIRS.with_json_fields(clip_score=Value("float32"), clip_scores={"clip_a": Value("float32")})
INTERLEAVED_SCHEMA = INTERLEAVED.with_json_fields(similarities=List(Value("float32")))
INSTRUCT_SCHEMA = INSTRUCT.with_json_fields(generator=Value("string"), prompt_version=Value("string"))
#: Documents: (number of sentences, image_positions)
DOCUMENTS = [(6, [0, 3]), (5, [1, 1, 4]), (7, [2, 5, 6])]


def solid(i: int, size: tuple[int, int] = (200, 160)) -> Image.Image:
    return Image.new("RGB", size, COLORS[i % len(COLORS)])


def _info(name: str, description: str = "") -> DatasetCardInfo:
    return DatasetCardInfo(
        pretty_name=name,
        description=description or f"Test {name} dataset.",
        thresholds={"cut": "the bottom 30% of clip_score dropped", "image size": "shorter side ≥ 150px"},
        sources=["Synthetic images made by the test (CC0).", "Texts written for the test; respect each site's terms."],
    )


def _junk(folder: Path) -> None:
    """What a real build leaves beside the release files and must never be uploaded."""
    (folder / "llm_cache" / "ab").mkdir(parents=True, exist_ok=True)
    (folder / "llm_cache" / "ab" / "abcdef.json").write_text('{"response": "cached"}', encoding="utf-8")
    (folder / "build.log").write_text("INFO built\n", encoding="utf-8")
    (folder / "notes.json.tmp").write_text("{}", encoding="utf-8")


def make_pairs(folder: Path, n: int = 6, description: str = "") -> Path:
    with ShardWriter(folder, PAIRS_SCHEMA, max_samples=4, on_invalid="raise") as w:
        for i in range(n):
            w.write({"__key__": f"pair{i:03d}", "jpg": solid(i), "txt": f"猫の写真 {i} {NASTY}",
                     "json": {"url": f"https://example.com/{i}.jpg", "source_url": "javascript:alert(1)" if i == 0
                              else f"https://example.com/page{i}", "width": 200, "height": 160,
                              "clip_score": 0.5 + i / 10, "clip_scores": {"clip_a": 0.25 + i / 100}}})
    _finish(folder, PAIRS_SCHEMA, _info("test-pairs", description), n)
    return folder


def make_interleaved(folder: Path, description: str = "") -> Path:
    with ShardWriter(folder, INTERLEAVED_SCHEMA, max_samples=2, on_invalid="raise") as w:
        c = 0
        for d, (n_sent, positions) in enumerate(DOCUMENTS):
            sample = {"__key__": f"doc{d:03d}",
                      "json": {"texts": [f"文書{d}の文{s}です。{NASTY if s == 1 else ''}" for s in range(n_sent)],
                               "image_positions": positions, "image_urls": [f"https://example.com/{d}/{k}.jpg" for k in range(len(positions))],
                               "source_url": f"https://example.com/doc{d}", "similarities": [0.3] * len(positions)}}
            for k in range(len(positions)):
                sample[f"{k}.jpg"] = solid(c)
                c += 1
            w.write(sample)
    _finish(folder, INTERLEAVED_SCHEMA, _info("test-interleaved", description), len(DOCUMENTS))
    return folder


def make_instruct(folder: Path, n: int = 3, description: str = "") -> Path:
    with ShardWriter(folder, INSTRUCT_SCHEMA, max_samples=2, on_invalid="raise") as w:
        for i in range(n):
            w.write({"__key__": f"conv{i:03d}", "jpg": solid(i),
                     "json": {"conversations": [
                         {"role": "user", "content": f"<image>\nこの画像は何ですか？ {i}"},
                         {"role": "assistant", "content": f"色の画像です。{NASTY}"},
                         {"role": "user", "content": "ほかには？"},
                         {"role": "assistant", "content": f"答え{i}"}],
                         "task": "photo_conversation", "source": "photos", "generator": "scripted",
                         "prompt_version": "photos-ja-v1"}})
    _finish(folder, INSTRUCT_SCHEMA, _info("test-instruct", description), n)
    return folder


def _finish(folder: Path, schema, info: DatasetCardInfo, n: int) -> None:
    funnel = Funnel()
    funnel.add_counts("read", {"input": n + 2, "kept": n, "dropped_not_japanese": 2})
    writer, _ = merge_rank_stats(folder)
    finalize_dataset(folder, schema, info, funnel=funnel + writer)
    _junk(folder)


MAKERS = {"pairs": make_pairs, "interleaved": make_interleaved, "instruct": make_instruct}
