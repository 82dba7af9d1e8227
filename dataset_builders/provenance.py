"""Provenance of a sample: where its page and each of its images came from, as the schema declares it.

The readers put the page's origin in ``Document.metadata`` (``source_file`` and ``warc_record_id`` /
``warc_date`` from a WARC, ``source_file`` / ``source_line`` from a JSONL corpus, and ``url``); the
extractor and the downloader put each image's in ``Media.metadata`` under the names of
:data:`~dataset_builders.schema.IMAGE_PROVENANCE`. These functions read them back, typed as the
schema wants them (a corpus record may carry a ``width`` string; it is not worth a dropped sample).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from datatrove.data import Media

from dataset_builders.schema import IMAGE_PROVENANCE, PAGE_PROVENANCE

_PAGE_KEYS = tuple(k for k in PAGE_PROVENANCE if k != "source_url")
_INT_FIELDS = {k for k, f in {**PAGE_PROVENANCE, **IMAGE_PROVENANCE}.items() if getattr(f.feature, "dtype", "") == "int32"}
_BOOL_FIELDS = {k for k, f in IMAGE_PROVENANCE.items() if getattr(f.feature, "dtype", "") == "bool"}


def _typed(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in _INT_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    if name in _BOOL_FIELDS:
        return value if isinstance(value, bool) else None
    return str(value)


def page_origin(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The page's input record (``source_file``, ``warc_record_id``, ``warc_date``, ``source_line``)."""
    return {k: _typed(k, metadata.get(k)) for k in _PAGE_KEYS}


def page_provenance(metadata: Mapping[str, Any], source_url: str | None) -> dict[str, Any]:
    """Every :data:`PAGE_PROVENANCE` field of a sample from its page's metadata."""
    return {"source_url": source_url, **page_origin(metadata)}


def image_provenance(media: Media) -> dict[str, Any]:
    """Every :data:`IMAGE_PROVENANCE` field of one downloaded image."""
    meta = media.metadata or {}
    out = {k: _typed(k, meta.get(k)) for k in IMAGE_PROVENANCE if k != "url"}
    return {"url": media.url, **out}
