"""The datatrove steps of the interleaved builder: place images between sentences, then apply the
document rules.

Input documents carry ``metadata["sentences"]`` (list[str]), ``media`` (images with
``media_bytes``) and the similarities (images × sentences) from the scorer, either as
``metadata["similarities"]`` (list of lists) or as one row per image in
``media.metadata["clip_similarities"]``. Typical pipeline::

    [..., ImageSentenceSimilarity(...), AssignImages(rules), DocumentRules(tokenizer, rules), writer]
"""

from __future__ import annotations

import logging
import os

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from transformers import PreTrainedTokenizerBase

from dataset_builders.interleaved.assignment import (
    as_similarity_matrix,
    assign_images,
    related_images,
    top_images,
)
from dataset_builders.interleaved.rules import InterleavedRules, document_drop_reason
from dataset_builders.interleaved.token_length import document_token_length, load_tokenizer

logger = logging.getLogger(__name__)


def _sentences(doc: Document) -> list[str]:
    sentences = doc.metadata.get("sentences")
    if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
        raise ValueError(
            f"document {doc.id}: metadata['sentences'] must be a list of strings (run the sentence splitter first)"
        )
    return sentences


def _similarities(doc: Document, media_key: str) -> list | None:
    """``doc.metadata["similarities"]``, else the rows the scorer stored on each image
    (``media.metadata[media_key]``, one float per sentence), stacked in ``doc.media`` order."""
    if "similarities" in doc.metadata:
        return doc.metadata["similarities"]
    rows = [m.metadata.get(media_key) for m in doc.media]
    if doc.media and all(r is not None for r in rows):
        return rows
    if doc.media:
        raise ValueError(
            f"document {doc.id}: no metadata['similarities'] and not every image has metadata['{media_key}'] "
            "(run the image-sentence scorer first)"
        )
    return []


class AssignImages(PipelineStep):
    """Drops unrelated images, assigns the rest to sentences and reorders ``doc.media`` into document order.

    Similarities come from ``doc.metadata["similarities"]`` (images × sentences) or, when absent,
    from each image's ``media.metadata[media_key]`` row (what ``dataset_builders.scoring.similarity``
    stores, ``clip_similarities``); rows on the media travel with them when they are reordered.

    Writes ``metadata["image_positions"]`` (image ``k`` follows that sentence, non-decreasing),
    ``metadata["assigned_similarities"]`` (per image, same order) and reorders the rows of
    ``metadata["similarities"]`` (if given there) to match the new ``media`` order. Counts
    ``media_dropped_low_similarity`` (below ``rules.min_similarity`` to every sentence),
    ``media_dropped_over_max_images`` (only with ``over_max_images="keep_top"``) and
    ``media_kept``. A document whose similarities do not fit its images and sentences is dropped as
    ``dropped_bad_similarities`` and logged; the run goes on.
    """

    name = "🧩 assign images to sentences"
    type = "🔢 - PROCESS"

    def __init__(self, rules: InterleavedRules | None = None, media_key: str = "clip_similarities"):
        super().__init__()
        self.rules = rules or InterleavedRules()
        self.media_key = media_key

    def process(self, doc: Document) -> Document:
        """Assign in place (raises ValueError on inconsistent input)."""
        sentences = _sentences(doc)
        sims = as_similarity_matrix(_similarities(doc, self.media_key), n_sentences=len(sentences))
        if sims.shape[0] != len(doc.media):
            raise ValueError(
                f"document {doc.id}: {len(doc.media)} images but {sims.shape[0]} rows of similarities "
                "(one row per image in doc.media order)"
            )
        rules = self.rules
        related = np.flatnonzero(related_images(sims, rules.min_similarity))
        candidates = related.tolist()
        if rules.over_max_images == "keep_top" and len(candidates) > rules.max_images:
            candidates = [candidates[k] for k in top_images(sims[related], rules.max_images)]
            self.stat_update("media_dropped_over_max_images", value=len(related) - len(candidates))
        assignment = assign_images(sims, rules.min_similarity, rules.solver, candidates=candidates)
        n_low = len(doc.media) - len(related)
        if n_low:
            self.stat_update("media_dropped_low_similarity", value=n_low)
        layout = assignment.layout
        doc.media = [doc.media[i] for i in layout.order]
        doc.metadata["image_positions"] = list(layout.positions)
        doc.metadata["assigned_similarities"] = list(layout.similarities)
        if "similarities" in doc.metadata:
            doc.metadata["similarities"] = sims[list(layout.order)].tolist()
        self.stat_update("media_kept", value=len(doc.media))
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("total")
            with self.track_time():
                try:
                    self.process(doc)
                except ValueError as e:  # one bad record never stops the run
                    self.stat_update("dropped", "dropped_bad_similarities")
                    logger.warning("dropping %s: %s", doc.id, e)
                    continue
            self.stat_update("forwarded")
            yield doc


class DocumentRules(BaseFilter):
    """Keeps documents with 2–5 images, 10–100 sentences, every assigned pair ≥ 0.20 and a token
    length within the LLM's maximum (bounds from ``rules``); drops with the reasons in
    :data:`~dataset_builders.interleaved.rules.REASONS`, plus ``placeholder_in_text`` for a
    sentence that contains the image placeholder itself. Kept documents get ``metadata["num_tokens"]``.

    Args:
        tokenizer: the LLM's tokenizer, or a local path / Hub id to load it from (loaded on first
            use, so the step pickles small for multi-process executors).
        rules: the bounds (paper defaults).
        exclusion_writer: optionally writes the dropped documents (datatrove).
    """

    name = "📏 interleaved document rules"

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase | str | os.PathLike,
        rules: InterleavedRules | None = None,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer)
        self.rules = rules or InterleavedRules()
        self._tokenizer_source = tokenizer
        self._tokenizer: PreTrainedTokenizerBase | None = None

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self._tokenizer_source, self.rules.template.image_placeholder)
        return self._tokenizer

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if isinstance(self._tokenizer_source, str | os.PathLike):
            state["_tokenizer"] = None  # reload in the worker rather than pickling it
        return state

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        sentences = _sentences(doc)
        positions = doc.metadata.get("image_positions")
        assigned = doc.metadata.get("assigned_similarities")
        if positions is None or assigned is None:
            raise RuntimeError(
                f"document {doc.id} has no image_positions / assigned_similarities: put AssignImages before DocumentRules"
            )
        if not len(positions) == len(assigned) == len(doc.media):
            raise RuntimeError(
                f"document {doc.id}: {len(doc.media)} images, {len(positions)} positions and {len(assigned)} "
                "similarities; doc.media was changed after AssignImages"
            )
        counted: list[int] = []

        def token_length() -> int:
            counted.append(
                document_token_length(
                    self.tokenizer, sentences, positions, self.rules.template, self.rules.tokens_per_image
                )
            )
            return counted[-1]

        try:
            reason = document_drop_reason(len(sentences), assigned, token_length, self.rules)
        except ValueError as e:
            logger.warning("dropping %s: %s", doc.id, e)
            return False, "placeholder_in_text"
        if reason:
            return False, reason
        doc.metadata["num_tokens"] = counted[-1]
        return True


class SentenceCountFilter(BaseFilter):
    """The 10–100 sentence rule, applied as soon as sentences exist (before any image is downloaded).

    It depends on the text alone, so applying it early gives the same kept set as the paper's order
    and saves downloading the images of documents that cannot be kept.
    """

    name = "📏 sentence count"

    def __init__(self, min_sentences: int = 10, max_sentences: int = 100, key: str = "sentences"):
        super().__init__()
        self.min_sentences, self.max_sentences, self.key = min_sentences, max_sentences, key

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.metadata.get(self.key) or [])
        if n < self.min_sentences:
            return False, "too_few_sentences"
        if n > self.max_sentences:
            return False, "too_many_sentences"
        return True
