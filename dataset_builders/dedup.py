"""Intra-document image dedup (seed §3): among a page's images, near-duplicates (pHash Hamming <= 5)
form transitive groups and only the highest-resolution copy of each group stays.

A page often shows the same picture as a thumbnail and full size, or repeats a banner; keeping one
copy (the largest, ties broken by page order) leaves one image per picture for the sentence
assignment. Corpus-wide dedup (frequent images across documents) is in ``frequent_images.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

from datatrove.data import Document, DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.hamming_index import DEFAULT_MAX_DISTANCE, group_near_duplicates
from dataset_builders.image_checks import image_size
from dataset_builders.images import ImageError
from dataset_builders.phash import from_hex

logger = logging.getLogger(__name__)


class HashedImage(NamedTuple):
    phash: int
    width: int
    height: int


def dedup_in_document(
    images: Sequence[HashedImage], max_distance: int = DEFAULT_MAX_DISTANCE
) -> list[int]:
    """Indices (ascending, i.e. page order) of the images to keep.

    Groups are connected components of "Hamming distance <= ``max_distance``" (so A~B and B~C put A,
    B and C together even when A and C are farther apart); each group keeps its image with the most
    pixels, the first in page order on a tie.
    """
    keep = []
    for group in group_near_duplicates([im.phash for im in images], max_distance):
        keep.append(max(group, key=lambda i: (images[i].width * images[i].height, -i)))
    return sorted(keep)


class DedupImagesInDocument(PipelineStep):
    """Drops near-duplicate images within each document (counts ``media_dropped_duplicate_in_document``).

    Needs ``media.metadata["phash"]`` (``HashImages``); images without one are kept and counted as
    ``media_unhashed``.
    """

    type = "🫂 - DEDUP"
    name = "🖼 intra-document image dedup"

    def __init__(self, max_distance: int = DEFAULT_MAX_DISTANCE):
        super().__init__()
        self.max_distance = max_distance

    def _dedup(self, doc: Document) -> None:
        candidates, hashed = [], []
        for pos, media in enumerate(doc.media):
            if media.type != MediaType.IMAGE:
                continue
            value = media.metadata.get("phash")
            if not isinstance(value, str):
                self.stat_update("media_unhashed")
                continue
            try:
                width, height = image_size(media)
                hashed.append(HashedImage(from_hex(value), width, height))
            except (ImageError, ValueError) as e:
                logger.warning("doc %s media %s: %s; kept without dedup", doc.id, media.id or media.url, e)
                self.stat_update("media_unhashed")
                continue
            candidates.append(pos)
        if len(candidates) < 2:
            return
        kept = {candidates[i] for i in dedup_in_document(hashed, self.max_distance)}
        dropped = {p for p in candidates if p not in kept}
        if dropped:
            self.stat_update("media_dropped_duplicate_in_document", value=len(dropped))
            doc.media = [m for pos, m in enumerate(doc.media) if pos not in dropped]

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data or ():
            with self.track_time():
                self._dedup(doc)
            self.stat_update("media_kept", value=sum(m.type == MediaType.IMAGE for m in doc.media))
            yield doc
