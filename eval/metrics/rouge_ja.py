"""Japanese ROUGE-L exactly as llm-jp-eval-mm computes it (eval-mm itself needs Python >= 3.12).

Text is normalised (emoji removed, NFKC, whitespace collapsed), cut into MeCab tokens (fugashi +
unidic-lite, ``-Owakati``), and scored like ``rouge_score``'s ``rougeL``: the longest common
subsequence of tokens gives precision and recall, their F1 × 100 is the sample's score, and a task's
score is the plain mean over samples (eval-mm's ``RougeLScorer``). neologdn is not used, as in
eval-mm (its build fails; NFKC is the fallback there too).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

try:  # eval-mm drops every character emoji.is_emoji() knows, then a few code-point ranges
    import emoji as _emoji
except ImportError:  # pragma: no cover - emoji comes with bunkai; the ranges below still apply
    _emoji = None

_EMOJI_RANGES = re.compile(
    "[\U0001f600-\U0001f64f\U0001f300-\U0001f5ff\U0001f680-\U0001f6ff\U0001f1e0-\U0001f1ff\U00002702-\U000027b0]+"
)


@lru_cache(maxsize=1)
def _tagger():
    try:
        from fugashi import Tagger
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError("Japanese ROUGE-L needs MeCab: pip install fugashi unidic-lite") from e
    return Tagger("-Owakati")


def normalize_text(text: str) -> str:
    """eval-mm's ``MecabTokenizer.normalize_answer``: no emoji, NFKC, single spaces."""
    if _emoji is not None:
        text = "".join("" if _emoji.is_emoji(c) else c for c in text)
    text = _EMOJI_RANGES.sub("", text)
    text = unicodedata.normalize("NFKC", text)
    return " ".join(text.split())


def tokenize(text: str) -> list[str]:
    """MeCab surface tokens of the normalised text."""
    return _tagger().parse(normalize_text(text)).split()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row at a time)."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(reference: str, prediction: str) -> float:
    """ROUGE-L F1 × 100 of one prediction against one reference (0 when either has no tokens)."""
    ref, pred = tokenize(reference), tokenize(prediction)
    if not ref or not pred:
        return 0.0
    lcs = lcs_length(ref, pred)
    precision, recall = lcs / len(pred), lcs / len(ref)
    if precision + recall == 0:
        return 0.0
    return 100.0 * 2 * precision * recall / (precision + recall)


def rouge_l_scores(references: Sequence[str], predictions: Sequence[str]) -> list[float]:
    """Per-sample scores (eval-mm ``RougeLScorer.score``)."""
    if len(references) != len(predictions):
        raise ValueError(f"{len(references)} references but {len(predictions)} predictions")
    return [rouge_l(r, p) for r, p in zip(references, predictions, strict=True)]


def mean(scores: Sequence[float]) -> float:
    """eval-mm ``aggregate``: the plain mean (0 for no samples)."""
    return sum(scores) / len(scores) if scores else 0.0
