"""Is this text Japanese? Share of kana + kanji among letters, and a minimum share of kana.

Chinese is Han without kana, so the kana minimum separates it from Japanese; Latin-script pages fail
the first share. Digits, punctuation and symbols are not letters and are ignored. The functions are
pure and cheap (three regex scans), so the pairs builder reuses them on alt texts; note that a short
alt text written only in kanji (``富士山``) has no kana and fails the default kana minimum — pass
``min_kana_ratio=0`` when such texts must pass (at the price of letting Chinese through).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

_KANA = re.compile("[\u3041-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_KANJI = re.compile("[\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LETTER = re.compile(r"[^\W\d_]")  # Unicode letters (and marks Python counts as word characters)

#: Defaults measured on ../shared/realdata main texts: the 31 Japanese pages score ja 0.31–0.99 (the
#: lowest, moongift, is a Japanese article full of Rust code) and kana 0.25–0.65; the 16 Chinese pages
#: (qdaily, CC-MAIN) score ja up to 0.99 but kana 0.0; Latin/Cyrillic pages score ja 0.0.
DEFAULT_MIN_JAPANESE_RATIO = 0.25
DEFAULT_MIN_KANA_RATIO = 0.05
DEFAULT_MIN_LETTERS = 1


@dataclass(frozen=True, slots=True)
class ScriptCounts:
    letters: int
    kana: int
    kanji: int

    @property
    def japanese_ratio(self) -> float:
        return (self.kana + self.kanji) / self.letters if self.letters else 0.0

    @property
    def kana_ratio(self) -> float:
        return self.kana / self.letters if self.letters else 0.0


def script_counts(text: str) -> ScriptCounts:
    """Letters, kana and kanji in ``text``."""
    return ScriptCounts(len(_LETTER.findall(text)), len(_KANA.findall(text)), len(_KANJI.findall(text)))


def japanese_ratio(text: str) -> float:
    """Share of hiragana, katakana and kanji among the letters of ``text`` (0.0 when it has none)."""
    return script_counts(text).japanese_ratio


def kana_ratio(text: str) -> float:
    """Share of hiragana and katakana among the letters of ``text``."""
    return script_counts(text).kana_ratio


def is_japanese(
    text: str,
    min_japanese_ratio: float = DEFAULT_MIN_JAPANESE_RATIO,
    min_kana_ratio: float = DEFAULT_MIN_KANA_RATIO,
    min_letters: int = DEFAULT_MIN_LETTERS,
) -> bool:
    """True when ``text`` is mostly Japanese script and has enough kana to not be Chinese."""
    c = script_counts(text)
    return c.letters >= min_letters and c.japanese_ratio >= min_japanese_ratio and c.kana_ratio >= min_kana_ratio


class JapaneseFilter(BaseFilter):
    """Keeps Japanese documents; drops the rest as ``not_japanese`` (counted as ``dropped_not_japanese``).

    The ratios are stored in ``doc.metadata`` (``ja_ratio``, ``kana_ratio``) for later analysis.
    """

    name = "🗾 Japanese"

    def __init__(
        self,
        min_japanese_ratio: float = DEFAULT_MIN_JAPANESE_RATIO,
        min_kana_ratio: float = DEFAULT_MIN_KANA_RATIO,
        min_letters: int = 20,
        exclusion_writer=None,
    ):
        super().__init__(exclusion_writer)
        self.min_japanese_ratio = min_japanese_ratio
        self.min_kana_ratio = min_kana_ratio
        self.min_letters = min_letters

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        c = script_counts(doc.text)
        doc.metadata["ja_ratio"] = round(c.japanese_ratio, 4)
        doc.metadata["kana_ratio"] = round(c.kana_ratio, 4)
        if c.letters >= self.min_letters and c.japanese_ratio >= self.min_japanese_ratio and (
            c.kana_ratio >= self.min_kana_ratio
        ):
            return True
        return False, "not_japanese"
