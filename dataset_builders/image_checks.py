"""Per-image checks on downloaded media: size / aspect rules (MMC4) and the pHash every later stage uses.

The rules are a pure function (:func:`check_size`) so builders, tests and the demo share one
definition; the steps apply them to ``datatrove`` documents, dropping failing *media* (never the
whole document) and counting ``media_dropped_<reason>``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.base import PipelineStep
from PIL import Image, UnidentifiedImageError

from dataset_builders.images import ImageError
from dataset_builders.phash import phash_hex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SizeRules:
    """MMC4's image rules: shorter side >= 150 px and width / height within [0.5, 2] (bounds kept)."""

    min_side: int = 150
    min_aspect: float = 0.5
    max_aspect: float = 2.0

    def __post_init__(self) -> None:
        if self.min_side < 1 or not 0 < self.min_aspect <= self.max_aspect:
            raise ValueError(f"invalid size rules {self}: need min_side >= 1 and 0 < min_aspect <= max_aspect")


MMC4_RULES = SizeRules()


def check_size(width: int, height: int, rules: SizeRules = MMC4_RULES) -> str | None:
    """``None`` to keep the image, else the drop reason: ``too_small`` or ``bad_aspect_ratio``."""
    if width <= 0 or height <= 0 or min(width, height) < rules.min_side:
        return "too_small"
    if not rules.min_aspect <= width / height <= rules.max_aspect:
        return "bad_aspect_ratio"
    return None


def image_size(media: Media) -> tuple[int, int]:
    """(width, height) from ``media.metadata`` (set by the downloader), else read from the image header.

    Raises :class:`ImageError` (``no_image`` / ``undecodable``) when neither is available.
    """
    w, h = media.metadata.get("width"), media.metadata.get("height")
    if isinstance(w, int) and isinstance(h, int):
        return w, h
    if not media.media_bytes:
        raise ImageError("no_image", f"media {media.id or media.url} has no bytes and no width/height")
    try:
        with Image.open(io.BytesIO(media.media_bytes)) as img:  # header only, no pixel decode
            return img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError("undecodable", f"media {media.id or media.url}: {e}") from e


def _is_image(media: Media) -> bool:
    return media.type == MediaType.IMAGE


class _MediaStep(PipelineStep):
    """Applies ``_check(media) -> reason | None`` to every image of every document; drops failures."""

    type = "🖼 - IMAGES"

    def _check(self, media: Media) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _filter_media(self, doc: Document) -> None:
        kept = []
        for media in doc.media:
            if not _is_image(media):
                kept.append(media)
                continue
            try:
                reason = self._check(media)
            except ImageError as e:
                reason = e.reason
                logger.warning("doc %s media %s: %s", doc.id, media.id or media.url, e)
            if reason is None:
                kept.append(media)
                self.stat_update("media_kept")
            else:
                self.stat_update(f"media_dropped_{reason}")
        doc.media = kept

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data or ():
            with self.track_time():
                self._filter_media(doc)
            yield doc


class ImageSizeFilter(_MediaStep):
    """Drops images that fail :class:`SizeRules` (counts ``media_dropped_too_small`` etc.)."""

    name = "📐 image size / aspect"

    def __init__(self, rules: SizeRules = MMC4_RULES):
        super().__init__()
        self.rules = rules

    def _check(self, media: Media) -> str | None:
        width, height = image_size(media)
        media.metadata.setdefault("width", width)
        media.metadata.setdefault("height", height)
        return check_size(width, height, self.rules)


class HashImages(_MediaStep):
    """Sets ``media.metadata["phash"]`` (16 hex digits, imagehash's string) on every image.

    An image whose bytes cannot be decoded is dropped (``media_dropped_undecodable``); one that is
    already hashed (a resumed run) is left as it is.
    """

    name = "#️⃣ phash"

    def _check(self, media: Media) -> str | None:
        if isinstance(media.metadata.get("phash"), str):
            return None
        if not media.media_bytes:
            raise ImageError("no_image", f"media {media.id or media.url} has no bytes to hash")
        media.metadata["phash"] = phash_hex(media.media_bytes)
        return None


def images_of(doc: Document) -> Iterable[Media]:
    """The image media of ``doc`` in page order."""
    return (m for m in doc.media if _is_image(m))
