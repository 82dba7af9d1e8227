"""Which characters count as Japanese, Latin letters and digits — shared by the alt-text rules and
the sentence merge rule, so that both agree on what "Japanese text" means.

Japanese character (:data:`JAPANESE_CHAR`): hiragana, katakana (full- and half-width, including the
iteration marks ゝゞヽヾ and the small phonetic extensions) and kanji (CJK Unified Ideographs with
extensions A–G, compatibility ideographs, and 々〆〇). Deliberately **not** included:

- ``・`` (U+30FB katakana middle dot) — it lives in the katakana block but is punctuation; a
  sentence ``・・・`` must count as symbol-only;
- ``ー`` (U+30FC prolonged sound mark, and half-width ``ｰ``) — every real word that contains it also
  contains a kana, while runs of it alone are separator lines (``ーーーー``) that should be merged;
- voicing marks ``゛゜``, ``〜``, Japanese punctuation and brackets.
"""

from __future__ import annotations

import re

HIRAGANA = "\u3041-\u3096\u309d-\u309f"
KATAKANA = "\u30a1-\u30fa\u30fd-\u30ff\u31f0-\u31ff\uff66-\uff6f\uff71-\uff9d"
KANJI = "\u3005-\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\uff21-\uff3a\uff41-\uff5a"

#: One hiragana, katakana or kanji character.
JAPANESE_CHAR = re.compile(f"[{HIRAGANA}{KATAKANA}{KANJI}]")
#: One Latin letter (ASCII, full-width, Latin-1 and Latin Extended-A/B).
LATIN_CHAR = re.compile(f"[{LATIN}]")
#: A character that makes a sentence "have content" for the merge rule: a decimal digit (any script,
#: full-width ０-９ included; circled ① is a symbol), a Latin letter or a Japanese character.
CONTENT_CHAR = re.compile(rf"[\d{LATIN}{HIRAGANA}{KATAKANA}{KANJI}]")


def has_japanese(text: str) -> bool:
    """True when ``text`` contains at least one hiragana, katakana or kanji character."""
    return JAPANESE_CHAR.search(text) is not None


def has_content(text: str) -> bool:
    """True when ``text`` contains a digit, a Latin letter or a Japanese character (paper's merge rule)."""
    return CONTENT_CHAR.search(text) is not None


def count_content_chars(text: str) -> int:
    """Number of digits, Latin letters and Japanese characters — the "meaningful" length of a text."""
    return len(CONTENT_CHAR.findall(text))
