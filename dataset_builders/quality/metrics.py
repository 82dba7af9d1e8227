"""The figures of ``ja-vila quality``: main-text overlap and the image / alt / harmful counts.

Main text is compared as a multiset of character bigrams after NFKC with all whitespace removed:
it ignores where lines break and tolerates small reorderings, so it measures *what* text was kept
(boilerplate in, article out) rather than how it was laid out.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

_WS = re.compile(r"\s+")


def bigrams(text: str) -> Counter:
    """Character bigrams of ``text`` after NFKC, whitespace removed (a multiset)."""
    s = _WS.sub("", unicodedata.normalize("NFKC", text or ""))
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


@dataclass
class Overlap:
    """Bigram counts of one or more (predicted, gold) text pairs; add them to pool pages."""

    common: int = 0
    predicted: int = 0
    gold: int = 0

    def __add__(self, other: Overlap) -> Overlap:
        return Overlap(self.common + other.common, self.predicted + other.predicted, self.gold + other.gold)

    @property
    def precision(self) -> float:
        return self.common / self.predicted if self.predicted else float(not self.gold)

    @property
    def recall(self) -> float:
        return self.common / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def bigram_overlap(predicted: str, gold: str) -> Overlap:
    """Shared bigrams (multiset intersection) and both totals."""
    p, g = bigrams(predicted), bigrams(gold)
    return Overlap(sum((p & g).values()), sum(p.values()), sum(g.values()))


def bigram_prf(predicted: str, gold: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of ``predicted`` against ``gold`` in character bigrams."""
    o = bigram_overlap(predicted, gold)
    return o.precision, o.recall, o.f1


def ratio(num: int, den: int, empty: float = 0.0) -> float:
    return num / den if den else empty
