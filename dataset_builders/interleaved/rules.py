"""Which interleaved documents are kept (paper line 100), as one config and one pure check.

LLM-jp-3 VILA keeps a document for pre-training only if it has 2–5 images, 10–100 sentences, every
image–sentence pair it was assigned has similarity ≥ 0.20, and its token count fits the LLM's
maximum length. Each rule drops with a named reason (counted as ``dropped_<reason>``):
``too_few_images``, ``too_many_images``, ``too_few_sentences``, ``too_many_sentences``,
``low_similarity``, ``too_long``.

More than ``max_images`` images after the 0.20 drop (``over_max_images``):

* ``"drop"`` (default) — the document is dropped as ``too_many_images``. This is the paper's rule
  read literally ("画像の枚数が 2 から 5 のもの"), and it keeps the released counts comparable with
  the paper's 9.9M images. A page with many related images is often a gallery or a listing, whose
  text is weakly tied to each picture; dropping it avoids teaching loosely grounded interleaving.
* ``"keep_top"`` — keep the ``max_images`` images whose best sentence is most similar (earlier
  image first on ties), drop the others as ``media_dropped_over_max_images``, then assign. This
  keeps more documents (more text, more images) at the cost of departing from the paper; the
  assignment is solved on the kept images, so it is still optimal for what is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from dataset_builders.interleaved.assignment import DEFAULT_SOLVER, MIN_SIMILARITY, Solver
from dataset_builders.interleaved.token_length import TOKENS_PER_IMAGE, DocumentTemplate

REASONS = (
    "too_few_images",
    "too_many_images",
    "too_few_sentences",
    "too_many_sentences",
    "low_similarity",
    "too_long",
)


@dataclass(frozen=True)
class InterleavedRules:
    """Every bound of the interleaved builder; defaults are the paper's (LLM-jp-3 VILA).

    Attributes:
        min_images / max_images: images per kept document (2..5).
        min_sentences / max_sentences: sentences per kept document (10..100).
        min_similarity: an image below this to every sentence is dropped, and a document with an
            assigned pair below it is dropped (0.20; comparisons are ``>=``, so exactly 0.20 passes).
        max_tokens: the LLM's maximum sequence length (4096).
        tokens_per_image: LLM tokens one image takes (729 = 27×27 SigLIP-384 patches).
        over_max_images: ``"drop"`` the document or ``"keep_top"`` images (see the module docstring).
        solver: assignment solver, ``"scipy"`` or ``"lapjv"`` (same result).
        template: how the document is rendered for the token count.
    """

    min_images: int = 2
    max_images: int = 5
    min_sentences: int = 10
    max_sentences: int = 100
    min_similarity: float = MIN_SIMILARITY
    max_tokens: int = 4096
    tokens_per_image: int = TOKENS_PER_IMAGE
    over_max_images: Literal["drop", "keep_top"] = "drop"
    solver: Solver = DEFAULT_SOLVER
    template: DocumentTemplate = DocumentTemplate()

    def __post_init__(self) -> None:
        if not 0 <= self.min_images <= self.max_images:
            raise ValueError(f"need 0 <= min_images <= max_images, got {self.min_images}..{self.max_images}")
        if not 0 <= self.min_sentences <= self.max_sentences:
            raise ValueError(
                f"need 0 <= min_sentences <= max_sentences, got {self.min_sentences}..{self.max_sentences}"
            )
        if self.over_max_images not in ("drop", "keep_top"):
            raise ValueError(f"over_max_images must be 'drop' or 'keep_top', got {self.over_max_images!r}")
        if self.max_tokens < 1 or self.tokens_per_image < 0:
            raise ValueError("max_tokens must be positive and tokens_per_image non-negative")


def document_drop_reason(
    n_sentences: int,
    assigned_similarities: Sequence[float],
    token_length: Callable[[], int],
    rules: InterleavedRules = InterleavedRules(),  # noqa: B008 - frozen, immutable default
) -> str | None:
    """The first rule the document breaks (in the order of :data:`REASONS`), or None to keep it.

    ``assigned_similarities`` has one entry per image (its similarity to its assigned sentence);
    ``token_length`` is called only when every cheaper rule passes (tokenizing is the slow part).
    """
    n_images = len(assigned_similarities)
    if n_images < rules.min_images:
        return "too_few_images"
    if n_images > rules.max_images:
        return "too_many_images"
    if n_sentences < rules.min_sentences:
        return "too_few_sentences"
    if n_sentences > rules.max_sentences:
        return "too_many_sentences"
    if any(s < rules.min_similarity for s in assigned_similarities):
        return "low_similarity"
    if token_length() > rules.max_tokens:
        return "too_long"
    return None
