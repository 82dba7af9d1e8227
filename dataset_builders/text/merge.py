"""The paper's merge rule (§3): after splitting, a sentence that contains no digit, no Latin letter
and no Japanese character is joined to the sentence before it.

Such "sentences" are symbol runs that bunkai cuts off: ``★★★``, ``・・・``, ``！！``, ``(^_^)``, a line
of ``ーーーー`` or ``＝＝＝``. "Japanese character" is :data:`~dataset_builders.text.chars.JAPANESE_CHAR`
(hiragana, katakana, kanji; not ``・`` nor ``ー``), so ``（笑）`` contains a kanji and stays a sentence.
A leading symbol-only sentence has no predecessor: it is joined to the *next* sentence instead
(``★新商品★`` → one sentence with what follows); a text with no content at all stays one sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from dataset_builders.text.chars import has_content


def merge_spans(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge symbol-only spans of ``text`` into the previous span (or the next, at the start)."""
    out: list[tuple[int, int]] = []
    pending_start: int | None = None  # start of leading symbol-only spans waiting for a content span
    for start, end in spans:
        if has_content(text[start:end]):
            if pending_start is not None:
                start, pending_start = pending_start, None
            out.append((start, end))
        elif out:
            out[-1] = (out[-1][0], end)
        elif pending_start is None:
            pending_start = start
    if pending_start is not None:  # nothing but symbols
        out.append((pending_start, spans[-1][1]))
    return out


def merge_symbol_only(sentences: Sequence[str], sep: str = "") -> list[str]:
    """The same rule on a list of sentence strings, joined with ``sep`` (Japanese: no separator)."""
    out: list[str] = []
    pending: list[str] = []
    for s in sentences:
        if has_content(s):
            out.append(sep.join([*pending, s]))
            pending = []
        elif out:
            out[-1] = out[-1] + sep + s
        else:
            pending.append(s)
    if pending:
        out.append(sep.join(pending))
    return out
