"""From a kept interleaved document to a WebDataset sample of the ``ja-interleaved`` dataset."""

from __future__ import annotations

from typing import Any

from datasets import List, Value
from datatrove.data import Document

from dataset_builders.keys import make_key
from dataset_builders.provenance import image_provenance, page_provenance
from dataset_builders.schema import INTERLEAVED, MAX_INTERLEAVED_IMAGES, Field

#: The INTERLEAVED schema plus what the assignment knows: ``similarities[k]`` is image slot k's
#: similarity to the sentence it follows, ``num_tokens`` the document's LLM token length.
INTERLEAVED_DOCS = INTERLEAVED.with_json_fields(
    similarities=Field(List(Value("float32")), "CLIP similarity of image slot k to the sentence it follows"),
    num_tokens=Field(Value("int32"), "token length of the document for the LLM (images counted as their tokens)"),
)


def to_interleaved_sample(doc: Document) -> dict[str, Any]:
    """The writer sample of a document that went through AssignImages (and DocumentRules):
    key from the page URL, images ``0.jpg``… in document order (their bytes as downloaded), and the
    json fields of :data:`INTERLEAVED_DOCS`. Raises ValueError naming the document if it cannot be
    written (more image slots than the schema has, an image without bytes, no positions)."""
    source_url = doc.metadata.get("url") or ""
    if not source_url:
        raise ValueError(f"document {doc.id} has no metadata['url']; the sample key is derived from the page URL")
    positions = doc.metadata.get("image_positions")
    if positions is None or len(positions) != len(doc.media):
        raise ValueError(f"document {doc.id}: image_positions do not match its images; run AssignImages first")
    if len(doc.media) > MAX_INTERLEAVED_IMAGES:
        raise ValueError(
            f"document {doc.id} has {len(doc.media)} images, the schema holds {MAX_INTERLEAVED_IMAGES}; "
            "run DocumentRules first"
        )
    sample: dict[str, Any] = {"__key__": make_key(source_url)}
    for k, media in enumerate(doc.media):
        if not media.media_bytes:
            raise ValueError(f"document {doc.id}: image {media.url} has no bytes; download images first")
        sample[f"{k}.jpg"] = media.media_bytes
    meta: dict[str, Any] = {
        "texts": list(doc.metadata["sentences"]),
        "image_positions": [int(p) for p in positions],
        "image_urls": [m.url for m in doc.media],
        **page_provenance(doc.metadata, source_url),
        "images": [{"alt": m.alt or "", **image_provenance(m)} for m in doc.media],
    }
    if "assigned_similarities" in doc.metadata:
        meta["similarities"] = [float(s) for s in doc.metadata["assigned_similarities"]]
    if "num_tokens" in doc.metadata:
        meta["num_tokens"] = int(doc.metadata["num_tokens"])
    sample["json"] = meta
    return sample
