"""A fast rule-based Japanese sentence splitter: bunkai's rules as regexes, without Janome.

bunkai (rule-based mode) ends a sentence after: a run of ``。!?.！？．`` (plus following whitespace),
an emotion mark (``（笑）``, runs of ``…★☆♪``), a face mark (``(^o^)``), a run of emoji of the
"Smileys & Emotion" / "Symbols" categories, and every newline. It keeps a candidate when the
next morpheme is one of a few particles (``と``, ``って``, ``の``, ``に``, ``て``, ``という``,
``など``, ``くらいの/です``, ``もあり``, ``ほどでし``: ``すごい！と思った``), a dot between digits
(``3.5m``, ``３．５``) or between ASCII letters/digits (``test.py``, e-mail addresses), and ``No.1``.
Beyond bunkai, a dot between full-width letters or digits (``ｃｏｎｅｃｏ．ｎｅｔ``, ``Ｇ．Ｗ``), the last
dot of a letter-dot abbreviation followed directly by text (``Ｇ．Ｗ．に``) and a dot right before a
digit (``打率.450``) are not boundaries. This module applies the same rules with regexes; the particle rule, which bunkai decides on Janome
tokens, is approximated on characters (a particle followed by a non-hiragana character, or by a
hiragana from a short list, and not the start of a common adverb such as とても/ところ).

Two options go beyond bunkai (both off in ``"fast"``, on in ``"fast_quote"``):

- ``attach_closing``: closing brackets/quotes after the punctuation stay with the sentence
  (``「すごい！」と言った`` → no cut before ``」``; bunkai cuts there and starts a sentence with ``」``);
- ``split_in_brackets=False``: no boundary inside 「」『』（）()【】 (all brackets close at a newline,
  and an opener still unclosed after ``max_bracket_chars`` characters is treated as a stray).

``protect_urls`` (on by default) never cuts inside a URL or an e-mail address (``?`` in a query).
"""

from __future__ import annotations

import bisect
import logging
import re

from dataset_builders.text.splitter import Splitter

logger = logging.getLogger(__name__)

PUNCTUATIONS = "。!?.！？．"
EMOTION_SYMBOLS = "…\u2605\u2606\u266a"  # … ★ ☆ ♪
EMOTION_WORDS = list("笑泣汗涙怒嬉爆驚喜悲謎恥焦苦照憂") + ["笑い", "わら", "泣き", "怒り", "照れ"]
CLOSING = "」』）)】〕〉》］]｝}\"”’'"
OPENING_TO_CLOSING = {"「": "」", "『": "』", "（": "）", "(": ")", "【": "】"}

# bunkai.algorithm.bunkai_sbd.annotator.constant (bunkai 1.5.7), copied so that this module never imports bunkai
_ALNUM = "a-zA-Z0-9ａ-ｚＡ-Ｚ０-９"
_FACE_PRE = "[!-/:-@[-`{-~！-／：-＠［-｀｛-～\u00a1-\u0fff\u1000-\u2fff\u4e00艸]"
_FACE_1 = "[" + _ALNUM + "!-/:-@[-`{-~！-／：-＠［-｀｛-～ａ-ｚＡ-Ｚ０-９\u00a1-\u0fff\u1000-\u2fff\u4e00艸]"
_FACE_2 = "[!-/:-@[-`{-~！-／：-＠［-｀｛-～\u00a1-\u0fff\u1000-\u2fff\u4e00艸]"
FACEMARK = re.compile(
    _FACE_PRE + r"*[（\(]" + _FACE_1 + "*" + _FACE_2 + "+" + _FACE_1 + r"*[）\)]" + _FACE_PRE + "*"
)
_FACE_HINT = re.compile(r"[（(]")

_EMOTION = re.compile(
    r"[（\(](?:" + "|".join(EMOTION_WORDS) + r")[\)）]|[" + EMOTION_SYMBOLS + "]+[" + PUNCTUATIONS + "]?"
)
_LINEBREAK = re.compile(r"[\n\s]*\n[\n\s]*")
_URL = re.compile(r"(?:https?|ftp)://[!-~]+|www\.[!-~]+|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.ASCII)

_NUMERIC = re.compile(r"[〇一二三四五六七八九十百千万億兆京\d]")
_MAIL_CHAR = re.compile(r"[a-zA-Z0-9ａ-ｚＡ-Ｚ０-９]")  # full-width too: ｃｏｎｅｃｏ．ｎｅｔ is one word
_LETTER = re.compile(r"[a-zA-Zａ-ｚＡ-Ｚ]")
_NUMBER_WORD = re.compile(r"[nNｎＮ][oOｏＯ]")
_DIGIT = re.compile(r"\d")
_BRACKET_EVENT = re.compile("[「『（(【」』）)】\n]")

# the particle rule (bunkai: IndirectQuoteExceptionAnnotator on Janome tokens), on characters
_PARTICLE = re.compile(
    r"(?:って|という|など|くらい(?:の|です|でし)|もあり|ほどでし"
    r"|(?!とても|とっても|ところ|ともかく|ともだち|とにかく|とりあえず|とうとう|ときどき|とき[にはのも]|とたん"
    r"|のんびり|にこにこ|にっこり|てっきり)"
    r"(?:[てのとに](?![\u3041-\u3096])|と[はのもやなすと]|に[はもな]|の[はがにでもよか]|て[はも]))"
)


def _emoji_sets() -> tuple[str, frozenset[str]]:
    """(all single-character emoji as a regex class, those in bunkai's sentence-ending categories)."""
    try:
        import emoji
        import emojis
    except ImportError:  # bunkai's own dependencies; without them the emoji rule is off
        logger.warning("emoji/emojis not installed: the fast splitter ignores emoji boundaries")
        return "", frozenset()
    singles = [c for c in emoji.EMOJI_DATA if len(c) == 1]
    targets = set()
    for c in singles:
        info = emojis.db.get_emoji_by_code(c) or emojis.db.get_emoji_by_code(c + "\ufe0f")
        if getattr(info, "category", None) in ("Smileys & Emotion", "Symbols"):
            targets.add(c)
    return _char_class(singles), frozenset(targets)


def _char_class(chars: list[str]) -> str:
    """A regex class body with consecutive code points merged into ranges (re scans ranges fast)."""
    points = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        a, b = re.escape(chr(points[i])), re.escape(chr(points[j]))
        parts.append(a if i == j else f"{a}-{b}")
        i = j + 1
    return "".join(parts)


_EMOJI_ALL, EMOJI_SENTENCE_END = _emoji_sets()
# a run of emoji ends a sentence when one of them is in a sentence-ending category (bunkai's rule)
_EMOJI_RUN = re.compile(f"[{_EMOJI_ALL}]+") if _EMOJI_ALL else None


class FastSplitter(Splitter):
    """bunkai's rules as regexes (see module docstring); hundreds of times faster than bunkai."""

    name = "fast"

    def __init__(
        self,
        attach_closing: bool = False,
        split_in_brackets: bool = True,
        protect_urls: bool = True,
        max_bracket_chars: int = 60,
    ) -> None:
        self.attach_closing = attach_closing
        self.max_bracket_chars = max_bracket_chars
        self.split_in_brackets = split_in_brackets
        self.protect_urls = protect_urls
        closing = "[" + re.escape(CLOSING) + "]*" if attach_closing else ""
        self._basic = re.compile(f"(?:[{PUNCTUATIONS}]+{closing})+\\s*" if attach_closing else f"[{PUNCTUATIONS}]+\\s*")
        self._emotion = re.compile(f"(?:{_EMOTION.pattern}){closing}\\s*") if attach_closing else _EMOTION

    def __repr__(self) -> str:
        return (
            f"FastSplitter(attach_closing={self.attach_closing}, split_in_brackets={self.split_in_brackets}, "
            f"protect_urls={self.protect_urls})"
        )

    # -- candidate rules ---------------------------------------------------------------------
    def _candidates(self, text: str) -> list[tuple[int, int]]:
        cands = [m.span() for m in self._basic.finditer(text)]
        cands += [m.span() for m in self._emotion.finditer(text)]
        if _FACE_HINT.search(text):
            cands += [m.span() for m in FACEMARK.finditer(text)]
        if _EMOJI_RUN is not None and not text.isascii():
            cands += [
                m.span() for m in _EMOJI_RUN.finditer(text) if not EMOJI_SENTENCE_END.isdisjoint(m.group())
            ]
        return cands

    def _is_exception(self, text: str, start: int, end: int) -> bool:
        n = len(text)
        if (
            self.attach_closing
            and end < n
            and text[end] in "とっ"
            and text[start:end].rstrip()[-1:] in CLOSING
        ):
            return True  # 「…！」と言った / 「…？」って: a quotation inside the sentence
        ch = text[start]
        if ch in ".．" and 0 < start < n - 1:
            prev, nxt = text[start - 1], text[start + 1]
            if _NUMERIC.match(prev) and _NUMERIC.match(nxt):
                return True  # 3.5m, ３．５
            if _MAIL_CHAR.match(prev) and _MAIL_CHAR.match(nxt):
                return True  # test.py, a.b@example.com, ｃｏｎｅｃｏ．ｎｅｔ, Ｇ．Ｗ
            if end - start == 1 and _DIGIT.match(nxt) and not nxt.isspace():
                return True  # 打率.450: a dot right before a digit opens a decimal
            if (
                end - start == 1
                and _LETTER.match(prev)
                and start >= 3
                and text[start - 2] in ".．"
                and _LETTER.match(text[start - 3])
                and not _LETTER.match(text[start - 4 : start - 3] or " ")
                and not nxt.isspace()
            ):
                return True  # the last dot of Ｇ．Ｗ．, U.S. when the text goes on without a space
            if (
                end - start == 1
                and end < n
                and _NUMBER_WORD.match(text, start - 2)
                and _DIGIT.match(text[end])
            ):
                return True  # No.1
        # particle after the candidate (skip newlines first, as bunkai does)
        j = end
        while j < n - 1 and text[j] == "\n":
            j += 1
        return j < n and _PARTICLE.match(text, j) is not None

    def boundaries(self, text: str) -> list[int]:
        n = len(text)
        if n == 0:
            return []
        ends = set()
        for start, end in self._candidates(text):
            if end < n and not self._is_exception(text, start, end):
                ends.add(end)
        if "\n" in text:
            for m in _LINEBREAK.finditer(text):
                ends.discard(m.start())  # bunkai moves such a boundary to the end of the line break
                ends.add(m.end())
        if self.protect_urls and ("/" in text or "@" in text):
            for m in _URL.finditer(text):
                ends.difference_update(range(m.start() + 1, m.end()))
        if not self.split_in_brackets:
            ends = self._outside_brackets(text, ends)
        return sorted(e for e in ends if 0 < e < n)

    def _outside_brackets(self, text: str, ends: set[int]) -> set[int]:
        if not any(b in text for b in OPENING_TO_CLOSING):
            return ends
        # after each bracket event: its end offset and the offset of the innermost open bracket (-1: none)
        pos, open_at = [], []
        stack: list[tuple[str, int]] = []
        for m in _BRACKET_EVENT.finditer(text):
            c = m.group()
            if c == "\n":
                stack.clear()
            elif c in OPENING_TO_CLOSING:
                stack.append((OPENING_TO_CLOSING[c], m.start()))
            else:
                closers = [closer for closer, _ in stack]
                if c in closers:  # close down to the matching opener (skips unclosed ones inside)
                    del stack[len(closers) - 1 - closers[::-1].index(c) :]
            pos.append(m.end())
            open_at.append(stack[-1][1] if stack else -1)
        keep = set()
        for e in ends:
            i = bisect.bisect_right(pos, e) - 1
            opened = open_at[i] if i >= 0 else -1
            # an opener left unclosed for more than max_bracket_chars is a stray: split again after it
            if opened < 0 or e - opened > self.max_bracket_chars or text[e - 1] == "\n":
                keep.add(e)
        return keep


class QuoteAwareSplitter(FastSplitter):
    """``"fast_quote"``: closing brackets attached, no boundary inside 「」『』（）()【】 unless the bracket
    closes the sentence (「行こう。」次に → a cut after 」)."""

    name = "fast_quote"

    def __init__(self, attach_closing: bool = True, split_in_brackets: bool = False, **kwargs) -> None:
        super().__init__(attach_closing=attach_closing, split_in_brackets=split_in_brackets, **kwargs)


def quote_aware_splitter(**kwargs) -> FastSplitter:
    """The ``"fast_quote"`` splitter (kept for callers of the function form)."""
    return QuoteAwareSplitter(**kwargs)
