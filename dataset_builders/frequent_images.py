"""Corpus-wide dedup of frequent images (seed §3): drop images with >= 10 near-duplicates in a 60K sample.

Icons, ads and "image not found" placeholders recur across thousands of pages. The seed, for each
year's data, samples 60K images, removes those with 10 or more duplicates (pHash Hamming <= 5) within
the sample, and repeats until every image has been in a sample. Here:

* an *image* is one image occurrence in one document, identified by :func:`image_id`
  (``media.id``, i.e. ``make_key(page url, image url)``, or ``make_key(doc id, image url)``);
* the samples partition the corpus (per group, e.g. per year when ``group_key="year"``): images are
  ordered by a seeded hash of their id and cut into ``ceil(n / sample_size)`` near-equal parts, so
  the decision depends only on the set of (id, hash) pairs, never on the number or order of tasks;
* ``sample_size=None`` is the exact mode: duplicates are counted over the whole group.

Two passes, because the rule is corpus-wide: :class:`CollectImageHashes` (pass 1) writes each task's
``(image id, phash, group)`` to ``<work_dir>/hashes/<rank>-of-<world_size>.tsv``;
:func:`merge_frequent_images` reads them all and writes ``<work_dir>/frequent_images.txt`` (sorted
ids to remove) and ``frequent_images.json`` (counts); :class:`DropFrequentImages` (pass 2) drops
those images (``media_dropped_frequent_image``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.atomic import atomic_open, atomic_write_json
from dataset_builders.hamming_index import DEFAULT_MAX_DISTANCE, count_near_duplicates
from dataset_builders.keys import make_key
from dataset_builders.phash import from_hex

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 60_000
MIN_DUPLICATES = 10
HASHES_DIR = "hashes"
REMOVAL_FILE = "frequent_images.txt"
SUMMARY_FILE = "frequent_images.json"


def image_id(doc: Document, media: Media) -> str:
    """The id both passes use for one image occurrence: ``media.id`` or ``make_key(doc.id, url)``."""
    return media.id or make_key(doc.id, media.url)


def _clean(field: object) -> str:
    return str(field).replace("\t", " ").replace("\n", " ")


class CollectImageHashes(PipelineStep):
    """Pass 1: records (image id, phash, group) of every hashed image; documents pass through unchanged.

    The task's file is written atomically when its input is exhausted, so a killed task leaves no file
    and a rerun of that rank replaces it.
    """

    type = "🫂 - DEDUP"
    name = "📝 collect image hashes"

    def __init__(self, work_dir: str | os.PathLike, group_key: str | None = None):
        super().__init__()
        self.work_dir = Path(work_dir)
        self.group_key = group_key

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        rows = []
        for doc in data or ():
            group = _clean(doc.metadata.get(self.group_key, "")) if self.group_key else ""
            for media in doc.media:
                if media.type != MediaType.IMAGE:
                    continue
                value = media.metadata.get("phash")
                if not isinstance(value, str):
                    self.stat_update("media_unhashed")
                    continue
                rows.append(f"{_clean(image_id(doc, media))}\t{value}\t{group}\n")
                self.stat_update("media_recorded")
            yield doc
        path = self.work_dir / HASHES_DIR / f"{rank:05d}-of-{world_size:05d}.tsv"
        with atomic_open(path, "w", encoding="utf-8") as f:
            f.writelines(rows)


def read_hash_files(work_dir: str | os.PathLike) -> list[tuple[str, int, str]]:
    """All (image id, phash, group) records of pass 1; checks that every task of one run wrote its file."""
    files = sorted((Path(work_dir) / HASHES_DIR).glob("*-of-*.tsv"))
    if not files:
        raise FileNotFoundError(f"no pass-1 hash files in {Path(work_dir) / HASHES_DIR}; run CollectImageHashes first")
    sizes = {f.stem.split("-of-")[1] for f in files}
    if len(sizes) != 1:
        raise ValueError(f"{work_dir}: hash files from runs with different task counts {sorted(sizes)}; "
                         "use a fresh work dir per run")
    world_size = int(sizes.pop())
    missing = sorted(set(range(world_size)) - {int(f.stem.split("-of-")[0]) for f in files})
    if missing:
        raise ValueError(f"{work_dir}: pass 1 incomplete, no hash file for ranks {missing[:10]} of {world_size}")
    records = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                image, value, group = line.rstrip("\n").split("\t")
                records.append((image, from_hex(value), group))
    return records


def _order_key(seed: int, image: str) -> bytes:
    return hashlib.sha1(f"{seed}\x1f{image}".encode()).digest()


def frequent_image_ids(
    records: Iterable[tuple[str, int, str]],
    sample_size: int | None = SAMPLE_SIZE,
    min_duplicates: int = MIN_DUPLICATES,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    seed: int = 0,
) -> tuple[set[str], dict]:
    """Ids of images with >= ``min_duplicates`` near-duplicates in their sample, and summary counts.

    Pure and order-independent: records are de-duplicated by id (first hash in sorted order wins),
    grouped, ordered by a seeded hash of the id and split into near-equal samples of at most
    ``sample_size`` (``None``: one sample per group, the exact count).
    """
    if sample_size is not None and sample_size < 1:
        raise ValueError(f"sample_size must be positive or None, got {sample_size}")
    by_id: dict[str, tuple[int, str]] = {}
    for image, value, group in sorted(records):
        by_id.setdefault(image, (value, group))
    groups: dict[str, list[str]] = {}
    for image, (_, group) in by_id.items():
        groups.setdefault(group, []).append(image)
    removed: set[str] = set()
    summary = {"images": len(by_id), "samples": 0, "removed": 0, "sample_size": sample_size,
               "min_duplicates": min_duplicates, "max_distance": max_distance, "seed": seed, "groups": {}}
    for group in sorted(groups):
        ids = sorted(groups[group], key=lambda i: _order_key(seed, i))
        n_samples = 1 if sample_size is None else math.ceil(len(ids) / sample_size)
        bounds = np.linspace(0, len(ids), n_samples + 1).round().astype(int)
        group_removed = 0
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            sample = ids[lo:hi]
            counts = count_near_duplicates(np.array([by_id[i][0] for i in sample], dtype=np.uint64), max_distance)
            for image, count in zip(sample, counts, strict=True):
                if count >= min_duplicates:
                    removed.add(image)
                    group_removed += 1
        summary["groups"][group] = {"images": len(ids), "samples": n_samples, "removed": group_removed}
        summary["samples"] += n_samples
    summary["removed"] = len(removed)
    return removed, summary


def merge_frequent_images(
    work_dir: str | os.PathLike,
    sample_size: int | None = SAMPLE_SIZE,
    min_duplicates: int = MIN_DUPLICATES,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    seed: int = 0,
) -> set[str]:
    """Merge step between the passes: reads pass 1's files, writes the removal list and summary."""
    removed, summary = frequent_image_ids(read_hash_files(work_dir), sample_size, min_duplicates, max_distance, seed)
    with atomic_open(Path(work_dir) / REMOVAL_FILE, "w", encoding="utf-8") as f:
        f.writelines(f"{image}\n" for image in sorted(removed))
    atomic_write_json(Path(work_dir) / SUMMARY_FILE, summary)
    logger.info("frequent images: %d of %d removed (%d samples)", summary["removed"], summary["images"],
                summary["samples"])
    return removed


class DropFrequentImages(PipelineStep):
    """Pass 2: drops images listed by :func:`merge_frequent_images` (counts ``media_dropped_frequent_image``)."""

    type = "🫂 - DEDUP"
    name = "🧹 drop frequent images"

    def __init__(self, work_dir: str | os.PathLike):
        super().__init__()
        self.work_dir = Path(work_dir)
        self._removed: set[str] | None = None

    def _load(self) -> set[str]:
        path = self.work_dir / REMOVAL_FILE
        if not path.exists():
            raise FileNotFoundError(f"{path} not found; run merge_frequent_images({str(self.work_dir)!r}) first")
        with open(path, encoding="utf-8") as f:
            return {line.rstrip("\n") for line in f if line.strip()}

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self._removed is None:
            self._removed = self._load()
        for doc in data or ():
            kept = []
            for media in doc.media:
                if media.type == MediaType.IMAGE and _clean(image_id(doc, media)) in self._removed:
                    self.stat_update("media_dropped_frequent_image")
                else:
                    self.stat_update("media_kept")
                    kept.append(media)
            doc.media = kept
            yield doc
