"""Corpus rule: drop images with >= 10 near-duplicates in a 60K sample (seed §3).

Icons, ads and "image not found" placeholders recur across thousands of pages. The seed, for each
year's data, samples 60K images, removes those with 10 or more duplicates (pHash Hamming <= 5) within
the sample, and repeats until every image has been in a sample. Here:

* an *image* is one image occurrence in one document, identified by :func:`image_id`
  (``media.id``, i.e. ``make_key(page url, image url)``, or ``make_key(doc id, image url)``);
* the samples partition the corpus (per group, e.g. per year when ``group_key="year"``): images are
  ordered by a seeded hash of their id and cut into ``ceil(n / sample_size)`` near-equal parts, so
  the decision depends only on the set of (id, hash) pairs, never on the number or order of tasks;
* ``sample_size=None`` is the exact mode: duplicates are counted over the whole group.

As a :class:`~dataset_builders.pipeline.corpus_rule.CorpusRule`: every task collects
``[image id, phash, group]`` of its hashed images, the merge runs :func:`frequent_image_ids` on the
union, and the apply step drops the listed images (``media_dropped_frequent_image``).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
from datatrove.data import Document, Media, MediaType

from dataset_builders.hamming_index import DEFAULT_MAX_DISTANCE, count_near_duplicates
from dataset_builders.keys import make_key
from dataset_builders.phash import from_hex
from dataset_builders.pipeline.corpus_rule import CorpusRule

SAMPLE_SIZE = 60_000
MIN_DUPLICATES = 10


@dataclass
class FrequentImagesConfig:
    """Seed §3: remove images with >= ``min_duplicates`` near-duplicates (Hamming <= ``max_distance``)
    within samples of ``sample_size`` images; ``sample_size: null`` counts over the whole corpus.
    ``group_key``: a document metadata key whose values are sampled separately (e.g. ``year``)."""

    sample_size: int | None = SAMPLE_SIZE
    min_duplicates: int = MIN_DUPLICATES
    max_distance: int = DEFAULT_MAX_DISTANCE
    seed: int = 0
    group_key: str | None = None


def image_id(doc: Document, media: Media) -> str:
    """The id both passes use for one image occurrence: ``media.id`` or ``make_key(doc.id, url)``."""
    return media.id or make_key(doc.id, media.url)


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


class FrequentImages(CorpusRule):
    name = "frequent_images"
    title = "🧹 drop frequent images"
    level = "media"

    def __init__(self, work_dir: str | os.PathLike, config: FrequentImagesConfig | None = None):
        super().__init__(work_dir)
        self.config = config or FrequentImagesConfig()
        if self.config.sample_size is not None and self.config.sample_size < 1:
            raise ValueError(f"frequent_images.sample_size must be positive or null, got {self.config.sample_size}")

    def collect(self, doc: Document) -> Iterable[list[str]]:
        key = self.config.group_key
        group = str(doc.metadata.get(key, "")) if key else ""
        for media in doc.media:
            value = media.metadata.get("phash")
            if media.type == MediaType.IMAGE and isinstance(value, str):
                yield [image_id(doc, media), value, group]

    def decide(self, rows: list[list[str]]) -> dict:
        c = self.config
        removed, summary = frequent_image_ids(((i, from_hex(h), g) for i, h, g in rows),
                                              c.sample_size, c.min_duplicates, c.max_distance, c.seed)
        return {"removed": removed, "summary": summary}

    def decision_to_json(self, decision: dict) -> dict:
        return {"removed": sorted(decision["removed"]), "summary": decision["summary"]}

    def decision_from_json(self, data: dict) -> dict:
        return {"removed": frozenset(data["removed"]), "summary": data["summary"]}

    def describe(self, decision: dict) -> str:
        s = decision["summary"]
        return f"{s['removed']} of {s['images']} images removed ({s['samples']} samples, config {asdict(self.config)})"

    def drop_media(self, doc: Document, media: Media, decision: dict) -> str | None:
        if media.type == MediaType.IMAGE and image_id(doc, media) in decision["removed"]:
            return "frequent_image"
        return None
