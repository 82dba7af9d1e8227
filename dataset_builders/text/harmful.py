"""Harmful-content keyword rules with HojiChar's word lists (adult, violence, discrimination), as a
pure checker and as a datatrove filter with one drop reason per word list.

The words are HojiChar 0.18's own lists (``hojichar/dict/{adult,violence,discrimination}_keywords_ja.txt``,
the lists behind ``DiscardAdultContentJa`` & co. and llm-jp-corpus), read unchanged. What differs from
HojiChar is *how a hit counts*, because HojiChar's plain substring search over-fires on ordinary
Japanese text — 7 of the 29 real news/tech pages in ``realdata/html/ja`` were dropped, all wrongly:

==============================  =============================================  ==================================
HojiChar (one hit drops)        what fired                                      here
==============================  =============================================  ==================================
ASCII keyword anywhere          ``AV`` in NETWAVE, ``SM`` in SMB / GSM / SMS    whole words only (no ASCII letter
                                                                                or digit on either side)
katakana keyword in katakana    ``アス`` in アスキー (``ignore_confused=True``)  same as HojiChar's ignore_confused
one-kanji keyword in a word     ``痴`` in 音痴                                   not next to another kanji
ambiguous short keyword alone   ``AV`` in 「AV・情報機器収納台」, ``死`` in      *weak*: counts only next to a
                                「死んだセル」 (Game of Life)                      strong hit in the same text
one ordinary word in a page     ``犯罪`` / ``破壊`` / ``壊す`` in news           ``min_hits`` and
                                                                                ``min_hits_per_1000_chars``
==============================  =============================================  ==================================

*Weak* keywords are the ones too short to mean one thing: ASCII keywords of at most two characters
(``AV``, ``SM``, ``3P``, ``jk``) and one-character keywords (``死``, ``痴``, ``淫``). A text is harmful
when it has at least one *strong* hit and its hits (strong + weak) reach ``min_hits`` and
``min_hits_per_1000_chars``. Defaults here are HojiChar's single hit (alt texts, pairs builder); the
interleaved builder sets a density for whole documents (``harmful.min_hits``,
``harmful.min_hits_per_1000_chars``). ``HojiCharMatching()`` (all switches off, one hit) gives
HojiChar's exact behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hojichar
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.errors import UserInputError

_DICT = Path(hojichar.__path__[0]) / "dict"
#: Drop reason → HojiChar word list, in the order they are checked.
HOJICHAR_LISTS = {
    "adult": _DICT / "adult_keywords_ja.txt",
    "violence": _DICT / "violence_keywords_ja.txt",
    "discrimination": _DICT / "discrimination_keywords_ja.txt",
}
ALL_KINDS: tuple[str, ...] = tuple(HOJICHAR_LISTS)

_KATAKANA_WORD = re.compile(r"[ァ-ヴー]+")
_ASCII_WORD = re.compile(r"[\x00-\x7f]+")
_KANJI = "\u3005\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ONE_KANJI = re.compile(f"[{_KANJI}]")


@dataclass(frozen=True)
class KeywordMatching:
    """How a keyword hit counts (module docstring). Config ``harmful`` / ``alt_text`` keys of the builders."""

    ascii_whole_words: bool = True
    kanji_outside_words: bool = True
    weak_needs_strong: bool = True
    min_hits: int = 1
    min_hits_per_1000_chars: float = 0.0


#: Whole documents (interleaved builder): a few ordinary words such as 犯罪 or 破壊 in a long news
#: article do not make it harmful; a page dense with list words does. On the 31 labelled pages the
#: densest harmless page has 1.2 hits per 1,000 characters (a legal essay on unauthorised access).
DOCUMENT_MATCHING = KeywordMatching(min_hits=3, min_hits_per_1000_chars=2.0)


def HojiCharMatching() -> KeywordMatching:  # noqa: N802 - reads as a constant
    """HojiChar's own behaviour: substring hits, one hit drops (with ``ignore_confused`` for katakana)."""
    return KeywordMatching(False, False, False, 1, 0.0)


def read_keywords(path: str | Path) -> list[str]:
    """The words of one HojiChar list file, as HojiChar reads them."""
    return [w.strip() for w in Path(path).read_text(encoding="utf-8").split("\n") if w.strip()]


def is_weak(word: str) -> bool:
    """Too short to mean one thing: ASCII of ≤ 2 characters, or a single character."""
    return len(word) == 1 or (len(word) <= 2 and word.isascii())


def trie_pattern(words: Iterable[str]) -> str:
    """One regex for many literal words, shared prefixes factored (``re`` tries alternatives one by one,
    so a flat ``a|b|c`` over 1,500 words costs ~100× more per character). Longer words win."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def _compile(words: list[str], ignore_confused: bool, m: KeywordMatching) -> re.Pattern | None:
    """The words as one pattern, each group with its boundary rule (module docstring)."""
    # "other" first: its mixed words (「AV女優」) must win over an ASCII or one-kanji prefix at the same place
    groups: dict[str, list[str]] = {"other": [], "katakana": [], "ascii": [], "kanji": []}
    for w in words:
        if ignore_confused and _KATAKANA_WORD.fullmatch(w):
            groups["katakana"].append(w)
        elif m.ascii_whole_words and _ASCII_WORD.fullmatch(w):
            groups["ascii"].append(w)
        elif m.kanji_outside_words and len(w) == 1 and _ONE_KANJI.fullmatch(w):
            groups["kanji"].append(w)
        else:
            groups["other"].append(w)
    around = {
        "katakana": ("(?<![ァ-ヴー])", "(?![ァ-ヴー])"),
        "ascii": ("(?<![A-Za-z0-9])", "(?![A-Za-z0-9])"),
        "kanji": (f"(?<![{_KANJI}])", f"(?![{_KANJI}])"),
        "other": ("", ""),
    }
    parts = [f"{around[g][0]}{trie_pattern(ws)}{around[g][1]}" for g, ws in groups.items() if ws]
    return re.compile("|".join(parts)) if parts else None


class HarmfulTextChecker:
    """Compiled keyword patterns for ``kinds``; ``reason(text)`` is the first kind whose hits count.

    Building one compiles a regex of ~1,700 keywords (≈ 50 ms): build it once per process/step.
    """

    def __init__(
        self,
        kinds: Iterable[str] = ALL_KINDS,
        ignore_confused: bool = True,
        matching: KeywordMatching | None = None,
    ) -> None:
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in HOJICHAR_LISTS]
        if unknown:
            raise UserInputError(
                f"unknown harmful-content kind(s) {unknown}; choose from {list(HOJICHAR_LISTS)}"
            )
        self.kinds = kinds
        self.ignore_confused = ignore_confused
        self.matching = matching or KeywordMatching()
        self._patterns = []
        for kind in kinds:
            words = read_keywords(HOJICHAR_LISTS[kind])
            # longest word first at each position, so 「AV女優」 is one strong hit, not also a weak 「AV」
            self._patterns.append((kind, _compile(words, ignore_confused, self.matching)))

    def hits(self, text: str) -> dict[str, tuple[int, int]]:
        """Per kind: (strong hits, weak hits) in ``text`` (every hit is strong when weak words may stand alone)."""
        out = {}
        for kind, pat in self._patterns:
            n_strong = n_weak = 0
            for m in pat.finditer(text) if pat is not None else ():
                if self.matching.weak_needs_strong and is_weak(m.group()):
                    n_weak += 1
                else:
                    n_strong += 1
            out[kind] = (n_strong, n_weak)
        return out

    def _counts(self, strong: int, weak: int, n_chars: int) -> bool:
        m = self.matching
        if strong == 0 and (m.weak_needs_strong or weak == 0):
            return False
        total = strong + weak
        return total >= m.min_hits and total * 1000 >= m.min_hits_per_1000_chars * max(n_chars, 1)

    def reason(self, text: str) -> str | None:
        """The kind of the first word list whose hits count in ``text`` (``"adult"`` …), or None."""
        if self.matched(text) is None:  # most texts: one scan that stops at the first hit
            return None
        n = len(text)
        for kind, (strong, weak) in self.hits(text).items():
            if self._counts(strong, weak, n):
                return kind
        return None

    def matched(self, text: str) -> tuple[str, str] | None:
        """(kind, first matched keyword) of the first list with a hit — for audits and tests."""
        for kind, pat in self._patterns:
            m = pat.search(text) if pat is not None else None
            if m:
                return kind, m.group()
        return None


class HarmfulContentFilter(BaseFilter):
    """Drops documents whose keyword hits count (see the module docstring) for a HojiChar list.

    Reasons are the kinds (counted as ``dropped_adult``, ``dropped_violence``,
    ``dropped_discrimination``). Interleaved builder; the pairs builder uses only ``adult``
    through :class:`~dataset_builders.text.alt_text.AltTextFilter`.
    """

    name = "☣️ harmful content (HojiChar)"

    def __init__(
        self,
        kinds: Iterable[str] = ALL_KINDS,
        ignore_confused: bool = True,
        exclusion_writer=None,
        matching: KeywordMatching | None = None,
    ):
        super().__init__(exclusion_writer)
        self.kinds = tuple(kinds)
        self.ignore_confused = ignore_confused
        self.matching = matching or KeywordMatching()
        self._checker: HarmfulTextChecker | None = None

    @property
    def checker(self) -> HarmfulTextChecker:
        # built lazily so that the step pickles small when an executor ships it to workers
        if self._checker is None:
            self._checker = HarmfulTextChecker(self.kinds, self.ignore_confused, self.matching)
        return self._checker

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_checker"] = None
        return state

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = self.checker.reason(doc.text)
        return True if reason is None else (False, reason)
