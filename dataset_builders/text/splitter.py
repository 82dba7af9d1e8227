"""Sentence splitters: one interface, a registry, and the default-splitter decision.

A :class:`Splitter` finds sentence *boundaries* (character offsets); ``spans`` and ``split`` derive
from them, so every splitter cuts the text the same way and the pieces concatenate back to the
text. ``split`` strips each piece and drops empty ones.

Registry: ``"bunkai"`` (bunkai's rule-based ``Bunkai()``, the paper's splitter, ~13K chars/s/core),
``"fast"`` (regex re-implementation of bunkai's rules, no morphological analyser) and
``"fast_quote"`` (same, but closing brackets stay with their sentence and nothing is split inside
「」『』（）). Classes are imported on first use, so choosing ``"fast"`` never loads Janome.

**Default-splitter rule**: bunkai stays the default unless the fast splitter agrees with it on
≥ 99.5 % of boundaries (F1 against bunkai's boundaries on real Japanese text). Measured by
``bench/splitter.py`` (and re-checked by ``tests/test_sentences.py``): 0.999
(:data:`MEASURED_FAST_VS_BUNKAI_F1`), so the fast rules win (200–600× faster than bunkai on this
machine, load-dependent). Between the two fast variants the gold texts decide: the quote-aware one
becomes the default when its boundary F1 over every gold text of ``realdata/text_ja``
(:data:`MEASURED_GOLD_F1`) beats the plain one — it does (0.963 vs 0.950), so **the default is
"fast_quote"**: no cut inside 「」/（） unless the bracket closes the sentence.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from dataset_builders.errors import UserInputError

#: The agreement (boundary F1 of "fast" against "bunkai") the fast splitter must reach to become default.
FAST_AGREEMENT_THRESHOLD = 0.995
#: Boundary F1 of "fast" against "bunkai" on 152K characters of real Japanese (Aozora 檸檬, UD-GSD
#: test, the text blocks of the 29 Japanese HTML pages, the gold files' texts): 3,465 shared
#: boundaries, 2 only fast, 5 only bunkai (bench/splitter.py). Of the 7, 3 are deliberate (no cut
#: inside a URL query ``search?q=``) and 4 come from bunkai's particle rule misfiring in long
#: paragraphs. Both splitters score the same F1 on every gold file.
MEASURED_FAST_VS_BUNKAI_F1 = 0.9990
#: Boundary F1 over every gold text of ``realdata/text_ja`` (bunkai sample + annotated, pragmatic
#: segmenter spec, UD Japanese-GSD test, ja_sentence_segmenter's default cases), measured by
#: ``bench/extraction_quality.py`` (``text_ja`` line) and re-checked by ``tests/test_quality.py``.
MEASURED_GOLD_F1 = {"bunkai": 0.949, "fast": 0.9497, "fast_quote": 0.9633}


def choose_default(
    fast_vs_bunkai_f1: float, threshold: float = FAST_AGREEMENT_THRESHOLD, gold_f1: dict[str, float] | None = None
) -> str:
    """The rule: bunkai unless "fast" agrees with it on at least ``threshold`` of boundaries; then the
    fast variant with the higher F1 on the gold texts (``gold_f1``; ``{}`` compares nothing: "fast")."""
    if fast_vs_bunkai_f1 < threshold:
        return "bunkai"
    gold = MEASURED_GOLD_F1 if gold_f1 is None else gold_f1
    return "fast_quote" if gold.get("fast_quote", 0.0) > gold.get("fast", 0.0) else "fast"


DEFAULT_SPLITTER = choose_default(MEASURED_FAST_VS_BUNKAI_F1)


class Splitter(ABC):
    """Splits Japanese text into sentences. Subclasses implement :meth:`boundaries`."""

    name: ClassVar[str] = ""

    @abstractmethod
    def boundaries(self, text: str) -> list[int]:
        """Sorted offsets ``0 < b < len(text)`` where a sentence ends and the next one starts."""

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every sentence; they tile ``text`` (whitespace stays with the sentence before)."""
        if not text:
            return []
        cuts = [0, *self.boundaries(text), len(text)]
        return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]

    def split(self, text: str) -> list[str]:
        """The sentences of ``text``, stripped, without empty ones."""
        return [s for a, b in self.spans(text) if (s := text[a:b].strip())]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_REGISTRY: dict[str, str | Callable[..., Splitter]] = {
    "bunkai": "dataset_builders.text.bunkai_splitter:BunkaiSplitter",
    "fast": "dataset_builders.text.fast_splitter:FastSplitter",
    "fast_quote": "dataset_builders.text.fast_splitter:QuoteAwareSplitter",
}


def register_splitter(name: str, factory: Callable[..., Splitter]) -> None:
    """Add a splitter under ``name`` (a class or a function returning a :class:`Splitter`)."""
    _REGISTRY[name] = factory


def available_splitters() -> list[str]:
    return sorted(_REGISTRY)


def get_splitter(name: str | None = None, **kwargs) -> Splitter:
    """Build the splitter registered as ``name`` (default: :data:`DEFAULT_SPLITTER`)."""
    name = name or DEFAULT_SPLITTER
    if name not in _REGISTRY:
        raise UserInputError(f"unknown sentence splitter {name!r}; available: {available_splitters()}")
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        module, attr = factory.split(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(**kwargs)
