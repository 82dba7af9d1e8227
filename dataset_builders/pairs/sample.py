"""Pair documents → ``ja-pairs`` samples; the schema declares every metadata field the builder adds."""

from __future__ import annotations

from collections.abc import Iterable

from datasets import Value
from datatrove.data import Document

from dataset_builders.schema import PAIRS, DatasetSchema, InvalidSample


def pairs_schema(scorer_names: Iterable[str]) -> DatasetSchema:
    """PAIRS plus the download, hash and score fields; ``clip_scores`` has one field per scorer."""
    return PAIRS.with_json_fields(
        alt_raw=Value("string"),
        original_width=Value("int32"),
        original_height=Value("int32"),
        phash=Value("string"),
        nsfw=Value("float32"),
        clip_scores={name: Value("float32") for name in sorted(scorer_names)},
        clip_score=Value("float32"),
    )


def to_pair_sample(doc: Document) -> dict:
    if not doc.media or doc.media[0].media_bytes is None:
        raise InvalidSample("missing_image", f"pair {doc.id} has no image bytes")
    media = doc.media[0]
    meta = media.metadata
    return {
        "__key__": doc.id,
        "jpg": media.media_bytes,
        "txt": doc.text,
        "json": {
            "url": media.url,
            "source_url": doc.metadata.get("source_url"),
            "width": meta.get("width"),
            "height": meta.get("height"),
            "original_width": meta.get("original_width"),
            "original_height": meta.get("original_height"),
            "phash": meta.get("phash"),
            "nsfw": meta.get("nsfw"),
            "alt_raw": doc.metadata.get("alt_raw"),
            "clip_scores": doc.metadata.get("clip_scores"),
            "clip_score": doc.metadata.get("clip_score"),
        },
    }
