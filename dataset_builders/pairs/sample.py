"""Pair documents → ``ja-pairs`` samples; the schema declares every metadata field the builder adds."""

from __future__ import annotations

from collections.abc import Iterable

from datasets import Value
from datatrove.data import Document

from dataset_builders.provenance import image_provenance, page_provenance
from dataset_builders.schema import PAIRS, DatasetSchema, Field, InvalidSample, struct_field


def pairs_schema(scorer_names: Iterable[str]) -> DatasetSchema:
    """PAIRS (provenance) plus the alt text and score fields; ``clip_scores`` has one field per scorer."""
    return PAIRS.with_json_fields(
        alt_raw=Field(Value("string"), "the alt text as found on the page, before whitespace normalisation"),
        nsfw=Field(Value("float32"), "NSFW probability of the image"),
        clip_scores=struct_field(
            {name: Field(Value("float32"), f"cosine similarity of image and text under scorer {name}")
             for name in sorted(scorer_names)},
            "per-scorer CLIP similarity of image and text",
        ),
        clip_score=Field(Value("float32"), "combined score: mean over scorers of score / |corpus median|"),
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
            **page_provenance(doc.metadata, doc.metadata.get("source_url")),
            **image_provenance(media),
            "nsfw": meta.get("nsfw"),
            "alt_raw": doc.metadata.get("alt_raw"),
            "clip_scores": doc.metadata.get("clip_scores"),
            "clip_score": doc.metadata.get("clip_score"),
        },
    }
