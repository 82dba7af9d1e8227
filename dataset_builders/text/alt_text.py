"""Alt-text rules of the pairs builder (paper §3, COYO-style), as pure functions and one filter.

Order (first failing rule names the drop): whitespace normalisation → ``no_japanese`` →
``too_short`` → ``filename_like`` → ``adult``. Each ``rule_*`` function takes the *normalised* text
and returns None to keep it or the drop reason. :func:`alt_text_drop_reason` runs the chain;
:class:`AltTextFilter` runs it inside a datatrove pipeline on documents whose ``text`` is the alt
text (it writes the normalised text back to ``doc.text``, which later corpus-wide rules count).

Per-text only: frequent boilerplate such as 「画像」「写真」 passes here and is removed by the
corpus-wide rule (alt texts seen ≥ 10 times), which is a separate two-pass step.

``too_short``: the length that counts is the number of *meaningful* characters (kana, kanji, Latin
letters, digits — :func:`~dataset_builders.text.chars.count_content_chars`), so ``「 」``, ``★★``
or an emoji do not make a text long. The default minimum is 2: Japanese content words are mostly
two or more characters (写真, 矢印, 富士山), a single character (``×``, ``犬``, ``…``) says almost
nothing about an image, and 2 keeps two-kanji words. On the 816 non-empty real alts of
``realdata/html/ja`` a minimum of 2 drops no text that has Japanese (``×``, ``…`` already fail
``no_japanese``); a minimum of 3 would drop 20 two-character words such as 検索, 矢印, 購入, 収納.
"""

from __future__ import annotations

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.text.chars import count_content_chars, has_japanese
from dataset_builders.text.filenames import is_filename_like
from dataset_builders.text.harmful import HarmfulTextChecker
from dataset_builders.text.whitespace import normalize_whitespace

DEFAULT_MIN_CHARS = 2

NO_JAPANESE = "no_japanese"
TOO_SHORT = "too_short"
FILENAME_LIKE = "filename_like"
ADULT = "adult"
#: Every reason the chain can return, in the order the rules run.
REASONS = (NO_JAPANESE, TOO_SHORT, FILENAME_LIKE, ADULT)


def rule_japanese(text: str) -> str | None:
    """Drop texts without any hiragana, katakana or kanji (kanji-only texts pass, as in the paper)."""
    return None if has_japanese(text) else NO_JAPANESE


def rule_min_length(text: str, min_chars: int = DEFAULT_MIN_CHARS) -> str | None:
    """Drop texts with fewer than ``min_chars`` meaningful characters (kana, kanji, letters, digits)."""
    return None if count_content_chars(text) >= min_chars else TOO_SHORT


def rule_filename(text: str) -> str | None:
    """Drop file names, camera default names, hashes, UUIDs, URLs and paths (see ``filenames``)."""
    return FILENAME_LIKE if is_filename_like(text) else None


def rule_adult(text: str, checker: HarmfulTextChecker) -> str | None:
    """Drop texts with a HojiChar adult keyword (``checker`` built with ``kinds=["adult"]``)."""
    return ADULT if checker.reason(text) is not None else None


_DEFAULT_ADULT_CHECKER: HarmfulTextChecker | None = None


def default_adult_checker() -> HarmfulTextChecker:
    """The process-wide adult checker with ``ignore_confused=True`` (compiled on first use)."""
    global _DEFAULT_ADULT_CHECKER
    if _DEFAULT_ADULT_CHECKER is None:
        _DEFAULT_ADULT_CHECKER = HarmfulTextChecker(kinds=("adult",), ignore_confused=True)
    return _DEFAULT_ADULT_CHECKER


def alt_text_drop_reason(
    text: str,
    min_chars: int = DEFAULT_MIN_CHARS,
    adult_checker: HarmfulTextChecker | None = None,
    check_adult: bool = True,
) -> str | None:
    """Normalise ``text`` and run the whole chain; None keeps it, else the first drop reason."""
    text = normalize_whitespace(text)
    return (
        rule_japanese(text)
        or rule_min_length(text, min_chars)
        or rule_filename(text)
        or (rule_adult(text, adult_checker or default_adult_checker()) if check_adult else None)
    )


class AltTextFilter(BaseFilter):
    """Datatrove filter over documents whose ``text`` is an alt text.

    Normalises ``doc.text`` in place (the raw text is kept in ``doc.metadata["alt_raw"]`` when it
    changed), then drops with reason ``no_japanese`` / ``too_short`` / ``filename_like`` / ``adult``.
    """

    name = "🏷️ alt-text rules"

    def __init__(
        self,
        min_chars: int = DEFAULT_MIN_CHARS,
        check_adult: bool = True,
        ignore_confused: bool = True,
        exclusion_writer=None,
    ) -> None:
        super().__init__(exclusion_writer)
        self.min_chars = min_chars
        self.check_adult = check_adult
        self.ignore_confused = ignore_confused
        self._checker: HarmfulTextChecker | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.check_adult and self._checker is None:
            self._checker = HarmfulTextChecker(kinds=("adult",), ignore_confused=self.ignore_confused)
        text = normalize_whitespace(doc.text)
        if text != doc.text:
            doc.metadata["alt_raw"] = doc.text
            doc.text = text
        reason = alt_text_drop_reason(text, self.min_chars, self._checker, self.check_adult)
        return True if reason is None else (False, reason)
