"""Document-level quality rules for Japanese text, of the kind Japanese LLM corpora apply (Swallow
corpus, llm-jp-corpus / HojiChar, Gopher's repetition rules), each a named drop reason.

They run on the interleaved builder's documents after sentence splitting (``metadata["sentences"]``),
before anything is downloaded. Code blocks (``metadata["code_spans"]``) are left out of every figure:
a Rust listing is neither low-hiragana prose nor one giant sentence.

* ``low_hiragana`` — hiragana are the grammar of Japanese prose; a text whose letters are less than
  ``min_hiragana_share`` hiragana is a list of names, codes or menu entries (Swallow uses 0.2 on plain
  text; web articles carry product codes and English names: 5 of the 31 labelled pages are below 0.2,
  none below 0.1);
* ``short_sentences`` / ``long_sentences`` — a mean sentence length outside
  [``min_mean_sentence_chars``, ``max_mean_sentence_chars``]: fragments (menus, tag clouds) or text
  without sentence ends;
* ``overlong_sentence`` — a sentence longer than ``max_sentence_chars`` (an unpunctuated dump);
* ``repetition`` — more than ``max_duplicate_sentence_share`` of the sentences repeat an earlier one
  (Gopher's duplicate-line rule: 0.3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

_HIRAGANA = re.compile("[\u3041-\u309f]")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class JapaneseQualityRules:
    """Thresholds of the document rules (config ``quality``); ``enabled: false`` turns them off."""

    enabled: bool = True
    min_hiragana_share: float = 0.1
    min_mean_sentence_chars: float = 10.0
    max_mean_sentence_chars: float = 200.0
    max_sentence_chars: int = 1000
    max_duplicate_sentence_share: float = 0.3


def _prose(doc: Document) -> tuple[str, list[str]]:
    """The document's text and sentences without its code blocks."""
    text = doc.text
    spans = sorted(tuple(s) for s in doc.metadata.get("code_spans") or [])
    code = {text[a:b].strip() for a, b in spans}
    for a, b in reversed(spans):
        text = text[:a] + text[b:]
    sentences = [s for s in doc.metadata.get("sentences") or [] if s.strip() not in code]
    return text, sentences


def quality_drop_reason(text: str, sentences: list[str], rules: JapaneseQualityRules) -> str | None:
    """The first rule ``text`` / ``sentences`` fail (module docstring), or None."""
    letters = len(_LETTER.findall(text))
    if letters and len(_HIRAGANA.findall(text)) / letters < rules.min_hiragana_share:
        return "low_hiragana"
    if sentences:
        lengths = [len(s) for s in sentences]
        mean = sum(lengths) / len(lengths)
        if mean < rules.min_mean_sentence_chars:
            return "short_sentences"
        if mean > rules.max_mean_sentence_chars:
            return "long_sentences"
        if max(lengths) > rules.max_sentence_chars:
            return "overlong_sentence"
        seen: set[str] = set()
        dup = 0
        for s in sentences:
            dup += s in seen
            seen.add(s)
        if dup / len(sentences) > rules.max_duplicate_sentence_share:
            return "repetition"
    return None


class JapaneseQualityFilter(BaseFilter):
    """Drops documents that fail :class:`JapaneseQualityRules` (one reason per rule)."""

    name = "🈂️ Japanese quality"

    def __init__(self, rules: JapaneseQualityRules | None = None, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.rules = rules or JapaneseQualityRules()

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not self.rules.enabled:
            return True
        text, sentences = _prose(doc)
        reason = quality_drop_reason(text, sentences, self.rules)
        return True if reason is None else (False, reason)
