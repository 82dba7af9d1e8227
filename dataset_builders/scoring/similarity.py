"""Image × sentence similarity matrices for the interleaved builder (MMC4-style assignment input).

For every document, the cosine similarity of each image with each sentence, with one scorer. Work is
batched *across* documents: the images of a whole chunk of documents go through the model together
(decoding in worker threads), and so do their sentences, then the results are sliced per document.

The step stores row ``i`` of the matrix on the image itself, ``media.metadata["clip_similarities"]``
(one float per sentence, in sentence order), plus ``media.metadata["clip_max_similarity"]``;
:func:`similarity_matrix` stacks them back into ``[n_images, n_sentences]``. Keeping the row on the
media means later steps may drop or reorder images without invalidating anything.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.scoring.preprocess import ImageInput
from dataset_builders.scoring.registry import build_scorer
from dataset_builders.scoring.scorer import Scorer

logger = logging.getLogger(__name__)

SIMS_KEY = "clip_similarities"
MAX_KEY = "clip_max_similarity"


@dataclass
class DocSimilarity:
    """``matrix[i, j]`` = cosine(image i, sentence j); rows of images that failed are NaN."""

    matrix: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)


def image_sentence_similarities(
    scorer: Scorer, docs: Sequence[tuple[Sequence[ImageInput], Sequence[str]]]
) -> list[DocSimilarity]:
    """One :class:`DocSimilarity` per ``(images, sentences)`` document, computed in shared batches."""
    images = [img for imgs, _ in docs for img in imgs]
    sentences = [s for _, sents in docs for s in sents]
    img = scorer.embed_images(images)
    txt = scorer.embed_texts(sentences) if sentences else None
    out, i0, j0 = [], 0, 0
    for imgs, sents in docs:
        ni, nj = len(imgs), len(sents)
        if txt is None or nj == 0:
            matrix = np.zeros((ni, 0), dtype=np.float32)
        else:
            matrix = scorer.similarity(img.features[i0 : i0 + ni], txt[j0 : j0 + nj]).numpy()
        errors = {i - i0: r for i, r in img.errors.items() if i0 <= i < i0 + ni}
        out.append(DocSimilarity(matrix, errors))
        i0, j0 = i0 + ni, j0 + nj
    return out


def similarity_matrix(doc: Document) -> np.ndarray:
    """``[n_images, n_sentences]`` from the rows the step stored on ``doc``'s image media."""
    rows = [m.metadata[SIMS_KEY] for m in doc.media if m.type == MediaType.IMAGE and SIMS_KEY in m.metadata]
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)


def sentences_of(doc: Document, key: str = "sentences") -> list[str]:
    """``doc.metadata[key]`` when it is a list of strings, else the non-empty lines of ``doc.text``."""
    value = doc.metadata.get(key)
    if isinstance(value, list | tuple):
        return [s if isinstance(s, str) else "" for s in value]
    return [line for line in doc.text.splitlines() if line.strip()]


class ImageSentenceSimilarity(PipelineStep):
    """Store every image's similarity to every sentence; drop images that fail to decode.

    ``min_similarity`` (the paper uses 0.20) also drops images whose best sentence is below it
    (``media_dropped_low_similarity``; an image in a document without sentences counts as below).
    Documents are processed in chunks of about ``images_per_chunk`` images.
    """

    name = "🖼️×📝 image-sentence similarity"
    type = "🔢 - SCORER"

    def __init__(
        self,
        scorer: Scorer | Mapping[str, Any],
        sentences_key: str = "sentences",
        min_similarity: float | None = None,
        images_per_chunk: int = 256,
    ):
        super().__init__()
        self.scorer_config = scorer
        self.sentences_key = sentences_key
        self.min_similarity = min_similarity
        self.images_per_chunk = images_per_chunk
        self._scorer: Scorer | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_scorer"] = None
        return state

    @property
    def scorer(self) -> Scorer:
        if self._scorer is None:
            self._scorer = build_scorer(self.scorer_config)
        return self._scorer

    def _chunks(self, data: DocumentsPipeline):
        chunk, n = [], 0
        for doc in data:
            chunk.append(doc)
            n += sum(1 for m in doc.media if m.type == MediaType.IMAGE and m.media_bytes)
            if n >= self.images_per_chunk:
                yield chunk
                chunk, n = [], 0
        if chunk:
            yield chunk

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        for chunk in self._chunks(data):
            items, inputs = [], []
            for doc in chunk:
                media = [m for m in doc.media if m.type == MediaType.IMAGE and m.media_bytes]
                self.stat_update("media_without_bytes", value=sum(
                    1 for m in doc.media if m.type == MediaType.IMAGE and not m.media_bytes))
                sents = sentences_of(doc, self.sentences_key)
                items.append(media)
                inputs.append(([m.media_bytes for m in media], sents))
            with self.track_time("chunk"):
                results = image_sentence_similarities(self.scorer, inputs)
            for doc, media, res in zip(chunk, items, results, strict=True):
                drop = set()
                for i, m in enumerate(media):
                    self.stat_update("media_total")
                    if i in res.errors:
                        drop.add(id(m))
                        self.stat_update(f"media_dropped_{res.errors[i]}")
                        logger.warning("doc %s: image %s dropped (%s)", doc.id, m.url, res.errors[i])
                        continue
                    row = res.matrix[i]
                    best = float(row.max()) if row.size else None
                    m.metadata[SIMS_KEY] = [float(v) for v in row]
                    m.metadata[MAX_KEY] = best
                    if self.min_similarity is not None and (best is None or best < self.min_similarity):
                        drop.add(id(m))
                        self.stat_update("media_dropped_low_similarity")
                if drop:
                    doc.media = [m for m in doc.media if id(m) not in drop]
                yield doc


__all__ = [
    "DocSimilarity", "ImageSentenceSimilarity", "image_sentence_similarities", "sentences_of", "similarity_matrix",
]
