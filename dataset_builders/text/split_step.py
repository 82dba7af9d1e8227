"""Datatrove step: split each document into sentences (interleaved builder, issue 5 step 1).

Stores the sentence list in ``doc.metadata["sentences"]`` and leaves ``doc.text`` unchanged. A code
block the extractor marked (``doc.metadata["code_spans"]``) is one sentence, never cut.
Sentences are cut by the chosen splitter, the paper's merge rule joins symbol-only sentences to
their predecessor, and each sentence is stripped (empty ones dropped). Counts ``documents``,
``sentences``, ``merged_sentences`` and ``split_failed`` (a document whose splitting raised is
passed on with ``sentences`` = [stripped text] rather than lost).
"""

from __future__ import annotations

import logging

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from dataset_builders.text.merge import merge_spans
from dataset_builders.text.splitter import DEFAULT_SPLITTER, Splitter, get_splitter

logger = logging.getLogger(__name__)

SENTENCES_KEY = "sentences"


def split_sentences(
    text: str, splitter: Splitter, merge: bool = True, whole: list[tuple[int, int]] | None = None
) -> tuple[list[str], int]:
    """(sentences, number of spans merged away) — the step's work on one text.

    ``whole``: (start, end) ranges that stay one sentence each (code blocks): no boundary inside,
    one at each edge.
    """
    spans = _keep_whole(text, splitter.spans(text), whole) if whole else splitter.spans(text)
    merged = merge_spans(text, spans) if merge else spans
    sentences = [s for a, b in merged if (s := text[a:b].strip())]
    return sentences, len(spans) - len(merged)


def _keep_whole(text: str, spans: list[tuple[int, int]], whole: list[tuple[int, int]]) -> list[tuple[int, int]]:
    cuts = {b for _, b in spans[:-1]}
    for a, b in whole:
        cuts = {c for c in cuts if not a < c < b}
        cuts.update(c for c in (a, b) if 0 < c < len(text))
    edges = [0, *sorted(cuts), len(text)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


class SplitSentences(PipelineStep):
    """Adds ``metadata["sentences"]`` (list of str) to every document."""

    name = "✂️ split sentences"
    type = "📝 - TEXT"

    def __init__(
        self,
        splitter: str = DEFAULT_SPLITTER,
        merge: bool = True,
        key: str = SENTENCES_KEY,
        **splitter_kwargs,
    ):
        super().__init__()
        self.splitter_name = splitter
        self.merge = merge
        self.key = key
        self.splitter_kwargs = splitter_kwargs
        self._splitter: Splitter | None = None

    @property
    def splitter(self) -> Splitter:
        if self._splitter is None:
            self._splitter = get_splitter(self.splitter_name, **self.splitter_kwargs)
        return self._splitter

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("documents")
            with self.track_time():
                try:
                    whole = [tuple(s) for s in doc.metadata.get("code_spans") or []]
                    sentences, merged = split_sentences(doc.text, self.splitter, self.merge, whole)
                except Exception as e:  # one bad document must not stop the run
                    logger.warning("sentence splitting failed for %s: %r", doc.id, e)
                    self.stat_update("split_failed")
                    sentences, merged = ([doc.text.strip()] if doc.text.strip() else []), 0
            doc.metadata[self.key] = sentences
            self.stat_update("sentences", value=len(sentences))
            if merged:
                self.stat_update("merged_sentences", value=merged)
            yield doc
