"""Harmful-content keyword rules from HojiChar (adult, violence, discrimination), as llm-jp-corpus
applies them, wrapped as pure checks and as a datatrove filter with one drop reason per word list.

HojiChar 0.18 ships the word lists in its wheel (``hojichar/dict/*_keywords_ja.txt``) and exposes
``DiscardAdultContentJa``, ``DiscardViolenceContentJa`` and ``DiscardDiscriminationContentJa``
(subclasses of ``NgWordsFilterJa(dict_path, ignore_confused=False)``). The match is a plain substring
search, so katakana keywords fire inside longer katakana words (``アス`` in ``アスキー`` and
``アスパラガス``). ``ignore_confused=True`` only accepts a katakana keyword when it is not flanked by
katakana; it is the default here because those false positives are frequent on real Japanese pages
(see ``tests/test_alt_text.py`` and ``tests/test_harmful.py`` for the measured rates).
"""

from __future__ import annotations

from collections.abc import Iterable

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from hojichar import Document as HojiDocument
from hojichar.filters.document_filters import (
    DiscardAdultContentJa,
    DiscardDiscriminationContentJa,
    DiscardViolenceContentJa,
)

from dataset_builders.errors import UserInputError

#: Drop reason → HojiChar filter class, in the order they are checked.
HOJICHAR_FILTERS = {
    "adult": DiscardAdultContentJa,
    "violence": DiscardViolenceContentJa,
    "discrimination": DiscardDiscriminationContentJa,
}
ALL_KINDS: tuple[str, ...] = tuple(HOJICHAR_FILTERS)


class HarmfulTextChecker:
    """Holds the compiled HojiChar filters for ``kinds``; ``reason(text)`` is the first that fires.

    Building one compiles a regex of ~1,500 keywords (≈ 50 ms): build it once per process/step.
    """

    def __init__(self, kinds: Iterable[str] = ALL_KINDS, ignore_confused: bool = True) -> None:
        kinds = tuple(kinds)
        unknown = [k for k in kinds if k not in HOJICHAR_FILTERS]
        if unknown:
            raise UserInputError(
                f"unknown harmful-content kind(s) {unknown}; choose from {list(HOJICHAR_FILTERS)}"
            )
        self.kinds = kinds
        self.ignore_confused = ignore_confused
        self._filters = [(k, HOJICHAR_FILTERS[k](ignore_confused=ignore_confused)) for k in kinds]

    def reason(self, text: str) -> str | None:
        """The kind of the first word list that matches ``text`` (``"adult"`` …), or None to keep it."""
        for kind, hoji_filter in self._filters:
            if hoji_filter.apply(HojiDocument(text)).is_rejected:
                return kind
        return None

    def matched(self, text: str) -> tuple[str, str] | None:
        """(kind, matched keyword) for the first list that matches — for audits and tests."""
        for kind, hoji_filter in self._filters:
            m = hoji_filter.keyword_pat.search(text)
            if m:
                return kind, m.group()
        return None


class HarmfulContentFilter(BaseFilter):
    """Drops documents whose text contains a HojiChar adult / violence / discrimination keyword.

    Reasons are the kinds (counted as ``dropped_adult``, ``dropped_violence``,
    ``dropped_discrimination``). Interleaved builder step 4; the pairs builder uses only ``adult``
    through :class:`~dataset_builders.text.alt_text.AltTextFilter`.
    """

    name = "☣️ harmful content (HojiChar)"

    def __init__(self, kinds: Iterable[str] = ALL_KINDS, ignore_confused: bool = True, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.kinds = tuple(kinds)
        self.ignore_confused = ignore_confused
        self._checker: HarmfulTextChecker | None = None

    @property
    def checker(self) -> HarmfulTextChecker:
        # built lazily so that the step pickles small when an executor ships it to workers
        if self._checker is None:
            self._checker = HarmfulTextChecker(self.kinds, self.ignore_confused)
        return self._checker

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = self.checker.reason(doc.text)
        return True if reason is None else (False, reason)
