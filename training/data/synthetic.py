"""Small synthetic datasets in the three schemas, for tests, benchmarks and the offline demo.

Images are flat colour squares and every text names the colour, so a tiny model can overfit them:
pairs ``赤い画像です。``, interleaved documents with 2–3 images between sentences, and
instruction conversations asking for the colour (some with two turns).
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

from dataset_builders.schema import INSTRUCT, INTERLEAVED, PAIRS
from dataset_builders.shard_writer import ShardWriter

COLOURS = {
    "赤": (220, 30, 30),
    "青": (30, 60, 220),
    "緑": (30, 180, 60),
    "黄": (230, 210, 40),
    "黒": (10, 10, 10),
    "白": (245, 245, 245),
}


def colour_image(name: str, size: int = 32) -> Image.Image:
    return Image.new("RGB", (size, size), COLOURS[name])


def write_pairs(out: str | Path, n: int = 24, seed: int = 0, max_samples: int = 10) -> Path:
    rng = random.Random(seed)
    names = list(COLOURS)
    with ShardWriter(out, PAIRS, max_samples=max_samples, on_invalid="raise") as writer:
        for i in range(n):
            c = rng.choice(names)
            writer.write({"__key__": f"pair{i:05d}", "jpg": colour_image(c), "txt": f"{c}い画像です。", "json": {}})
    return Path(out)


def write_interleaved(out: str | Path, n: int = 12, seed: int = 0, max_samples: int = 10) -> Path:
    rng = random.Random(seed + 1)
    names = list(COLOURS)
    with ShardWriter(out, INTERLEAVED, max_samples=max_samples, on_invalid="raise") as writer:
        for i in range(n):
            k = rng.choice([2, 3])
            cs = [rng.choice(names) for _ in range(k)]
            texts = ["色の記事です。", *[f"次は{c}の写真です。" for c in cs]]
            sample = {
                "__key__": f"doc{i:05d}",
                "json": {"texts": texts, "image_positions": list(range(1, k + 1))},
            }
            for j, c in enumerate(cs):
                sample[f"{j}.jpg"] = colour_image(c)
            writer.write(sample)
    return Path(out)


def write_instruct(out: str | Path, n: int = 16, seed: int = 0, max_samples: int = 10) -> Path:
    rng = random.Random(seed + 2)
    names = list(COLOURS)
    with ShardWriter(out, INSTRUCT, max_samples=max_samples, on_invalid="raise") as writer:
        for i in range(n):
            c = rng.choice(names)
            turns = [
                {"role": "user", "content": "<image>\nこの画像は何色ですか？"},
                {"role": "assistant", "content": f"{c}です。"},
            ]
            if i % 3 == 0:
                turns += [{"role": "user", "content": "もう一度教えて。"}, {"role": "assistant", "content": f"{c}色です。"}]
            writer.write({"__key__": f"conv{i:05d}", "jpg": colour_image(c), "json": {"conversations": turns}})
    return Path(out)


def write_tiny_datasets(root: str | Path, seed: int = 0) -> dict[str, Path]:
    """``{"pairs": …, "interleaved": …, "instruct": …}`` dataset folders under ``root``."""
    root = Path(root)
    return {
        "pairs": write_pairs(root / "pairs", seed=seed),
        "interleaved": write_interleaved(root / "interleaved", seed=seed),
        "instruct": write_instruct(root / "instruct", seed=seed),
    }
