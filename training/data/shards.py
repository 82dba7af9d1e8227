"""Stream samples out of WebDataset shards without materialising a dataset.

A source is a dataset folder (its ``data/*.tar``), a shard file, a glob, or an ``hf://`` URL
(``hf://datasets/org/name/data/train-00000-00000.tar``; webdataset opens it with the Hub token).
Samples come back as dicts of raw bytes plus the decoded ``json`` member; images stay undecoded
until the collator needs them (every rank reads the stream, only its own batch decodes images).
"""

from __future__ import annotations

import glob
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webdataset.tariterators import tarfile_samples

from dataset_builders.errors import InputNotFound

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = ("jpg", "jpeg", "png", "webp")


def expand_shards(source: str | os.PathLike) -> list[str]:
    """The shard URLs of ``source`` in a stable order (folder, file, glob or ``hf://`` / ``pipe:`` URL)."""
    text = str(source)
    if "://" in text or text.startswith("pipe:"):
        return [text]
    path = Path(text)
    if path.is_dir():
        data = path / "data" if (path / "data").is_dir() else path
        shards = sorted(str(p) for p in data.glob("*.tar"))
    elif any(ch in text for ch in "*?["):
        shards = sorted(glob.glob(text))
    elif path.is_file():
        shards = [text]
    else:
        shards = []
    if not shards and path.is_dir() and _built_empty(path):
        raise FileNotFoundError(f"dataset folder {source} is empty: its build kept 0 samples (the funnel in its "
                                "README.md shows why); leave it out of the mixture or rebuild it")
    if not shards:
        raise InputNotFound(
            f"no WebDataset shards at {source}: pass a dataset folder (with data/*.tar), a .tar file, a glob "
            "or an hf://datasets/... URL"
        )
    return shards


def _built_empty(folder: Path) -> bool:
    """True for a finished dataset folder whose ``stats.json`` counts 0 samples."""
    try:
        return json.loads((folder / "stats.json").read_text(encoding="utf-8")).get("samples") == 0
    except (OSError, ValueError, AttributeError):
        return False


def decode_members(sample: dict[str, Any]) -> dict[str, Any]:
    """``json`` decoded to a dict and ``txt`` to ``str``; a bad ``json`` member raises ``ValueError``."""
    raw = sample.get("json")
    if isinstance(raw, bytes | bytearray):
        try:
            sample["json"] = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"sample {sample.get('__key__')} in {sample.get('__url__')}: bad json member ({e})") from e
    if isinstance(sample.get("txt"), bytes | bytearray):
        sample["txt"] = sample["txt"].decode("utf-8", errors="replace")
    return sample


def iter_shard(url: str, skip: int = 0) -> Iterator[dict[str, Any]]:
    """The raw samples of one shard, after its first ``skip`` (skipped ones are read, never decoded)."""
    samples = tarfile_samples([{"url": url}])
    for _ in range(skip):
        if next(samples, None) is None:
            return
    yield from samples


def iter_samples(shards: list[str], counts: Counter[str] | None = None) -> Iterator[dict[str, Any]]:
    """Samples of ``shards`` in order: ``__key__``, raw members, ``json`` decoded to a dict; a sample
    with an undecodable ``json`` member is skipped (counted as ``dropped_bad_json`` in ``counts``)."""
    for url in shards:
        for sample in iter_shard(url):
            try:
                yield decode_members(sample)
            except ValueError as e:
                logger.warning("%s; skipped", e)
                if counts is not None:
                    counts["dropped_bad_json"] += 1


def sample_kind(sample: dict[str, Any]) -> str:
    """``pairs``, ``interleaved`` or ``instruct``, from the members a sample carries."""
    meta = sample.get("json") or {}
    if "0.jpg" in sample or "texts" in meta:
        return "interleaved"
    if meta.get("conversations"):
        return "instruct"
    if "txt" in sample:
        return "pairs"
    raise ValueError(
        f"sample {sample.get('__key__')} from {sample.get('__url__')}: not a pairs (jpg+txt), interleaved "
        "(0.jpg..+json texts) or instruct (jpg+json conversations) sample"
    )


def sample_images(sample: dict[str, Any]) -> list[bytes]:
    """The image members' bytes in slot order (``jpg`` or ``0.jpg`` … ``4.jpg``)."""
    if "0.jpg" in sample:
        return [sample[f"{i}.jpg"] for i in range(10) if sample.get(f"{i}.jpg") is not None]
    for suffix in IMAGE_SUFFIXES:
        if sample.get(suffix) is not None:
            return [sample[suffix]]
    return []
