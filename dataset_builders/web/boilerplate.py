"""Line-level boilerplate removal on the extracted main text (after the DOM chrome is gone).

resiliparse's main-content extraction keeps what sits next to the article in the same container:
lists of links to other articles, "related articles" boxes, cookie notices, bylines. These rules run
on the extracted lines, each with a named reason (counted as ``lines_dropped_<reason>``):

* ``link_list`` — a run of at least ``min_link_run`` lines that are mostly link text (share of
  characters inside ``<a>`` ≥ ``max_link_share``); the link characters are known because
  :func:`mark_links` put marker characters around every link's text before parsing;
* ``related_section`` — a heading such as 「関連記事」「最新記事10本」「【注目の記事】[PR]」 and the
  lines that follow it up to the next paragraph of prose; an ad label (「スポンサードリンク」「PR」「広告」)
  and the link lines right after it (the ad, not the article that may follow);
* ``consent_notice`` — cookie / consent banners (a line naming cookies together with consent words);
* ``byline`` — a short line with a date *and* a time (「ZDNet Japan Staff 2019年04月28日 08時00分」), or
  a date, a space and a short label (「2024-11-01 旅行」: a post's date and category);
* ``credit_line`` — photo credits (``Image: …``, ``IMAGE COURTESY OF …``, ``Source: …``);
* ``ui_label`` — a line that is only a button or menu label (「閉じる」「印刷」「Page Top」), or a short
  line ending like one (「JNSA主催セミナー一覧へ>>」「コンテンツへスキップ」);
* ``copyright`` — a short copyright, licence or ad-label line (「Copyright ©」「All Rights Reserved.」).

A line that repeats the page title is never dropped (titles are often links to the page itself),
nor is a line of a code block (``<pre>``, marked by the extractor: kept or dropped whole).
Image markers in a dropped line go with it: an image inside a teaser line is not article content.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from dataset_builders.text.ui_words import (
    AD_LABEL,
    COPYRIGHT_AD,
    is_navigation_label,
    is_related_heading,
    normalize_label,
)

LINK_OPEN, LINK_CLOSE = "\ufdd4", "\ufdd5"
CODE_OPEN, CODE_CLOSE = "\ufdd6", "\ufdd7"  # around a <pre> block: its lines are one unit, never judged alone
_CODE_BLOCK = re.compile("\ufdd6[^\ufdd7]*\ufdd7?")
_A_OPEN = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_A_CLOSE = re.compile(r"</a\s*>", re.IGNORECASE)
_MARKS = re.compile("[\ufdd0-\ufdef]")
_IMG_MARKER = re.compile("\ufdd0[\ufde0-\ufdef]+\ufdd1")
_SPACE = re.compile(r"\s")
_CONSENT_TOPIC = re.compile(r"cookie|クッキー", re.IGNORECASE)
_CONSENT_ACT = re.compile(r"同意|使用|利用|設定|許可|承諾|オプトアウト|プライバシー|accept|consent|agree", re.IGNORECASE)
_DATE = re.compile(r"\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}")
_TIME = re.compile(r"\d{1,2}\s*(?::|：|時)\s*\d{2}")
_BYLINE = re.compile(r"^(?:posted\s+(?:on|by)|written\s+by|by[\s.:：])", re.IGNORECASE)
# 「2024-11-01 旅行」「2022.08.10 Buy」: a date, a space, a short label (a post's date and category)
_DATE_LABEL = re.compile(
    r"^\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}日?(?:\s*[(（][月火水木金土日][)）])?\s+\S{1,15}$"
)
_CREDIT = re.compile(
    r"^[(（\[【]?\s*(?:image|images|photo|photos|photograph|photographs|source|illustration|video)s?"
    r"(?:\s+(?:courtesy\s+of|by|credit))?\s*[:：]|^(?:image|photo|photograph)s?\s+(?:courtesy\s+of|by)\b"
    r"|^[(（]?(?:写真|画像|図版)(?:提供)?\s*[:：]",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[。．！？!?]")
MAX_FILLER_LINES = 2  # short lines (date, category) allowed between two teaser links of one list


def mark_links(html: str) -> str:
    """Put LINK_OPEN / LINK_CLOSE right inside every ``<a>`` so link text is visible in the extracted text."""
    html = _A_OPEN.sub(lambda m: m.group(0) + LINK_OPEN, html)
    return _A_CLOSE.sub(LINK_CLOSE + "</a>", html)


@dataclass(frozen=True)
class LineRules:
    """Line-level boilerplate rules (see the module docstring); ``enabled: false`` keeps every line."""

    enabled: bool = True
    max_link_share: float = 0.6
    min_link_run: int = 2
    related_sections: bool = True
    consent_notices: bool = True
    bylines: bool = True
    credit_lines: bool = True
    ui_labels: bool = True
    copyright_lines: bool = True


@dataclass
class _Line:
    raw: str
    visible: str
    chars: int
    link_chars: int
    code: bool = False

    @property
    def link_share(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0


_SEGMENT = re.compile("([\ufdd4-\ufdd7\n])")
_WORD_CHAR = re.compile(r"[^\W_]")  # letters, digits, kana, kanji: separators do not dilute a link list


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    in_link = in_code = False
    raw: list[str] = []
    chars = link = 0
    code = False
    for part in _SEGMENT.split(text):
        if part == "\n":
            line = "".join(raw)
            out.append(_Line(line, _MARKS.sub("", line).strip(), chars, link, code))
            raw, chars, link, code = [], 0, 0, in_code
            continue
        raw.append(part)
        if part == LINK_OPEN:
            in_link = True
        elif part == LINK_CLOSE:
            in_link = False
        elif part == CODE_OPEN:
            in_code = code = True
        elif part == CODE_CLOSE:
            in_code = False
        elif part:
            n = len(_WORD_CHAR.findall(part))
            chars += n
            link += n if in_link else 0
    line = "".join(raw)
    out.append(_Line(line, _MARKS.sub("", line).strip(), chars, link, code))
    return out


def drop_code_blocks(text: str) -> tuple[str, int]:
    """``text`` without its marked code blocks, and how many there were."""
    return _CODE_BLOCK.subn("", text)


def _is_filler(line: _Line) -> bool:
    """A short line that is not a sentence (a date, a category, a count) — the small print of a teaser."""
    return line.chars <= 25 and not _SENTENCE_END.search(line.visible[-1:] or "")


def _is_prose(visible: str) -> bool:
    """A paragraph of the article rather than a teaser headline: ends like a sentence, or is long."""
    return len(visible) >= 80 or (len(visible) >= 20 and _SENTENCE_END.search(visible[-1]) is not None)


def _is_title(line: _Line, title_key: str) -> bool:
    key = _SPACE.sub("", line.visible)
    return len(key) >= 6 and bool(title_key) and (key in title_key or title_key in key)


def line_reasons(text: str, rules: LineRules, title: str = "") -> list[str | None]:
    """The drop reason of every line of ``text`` (split at ``\\n``), None for lines kept."""
    lines = _lines(text)
    reasons: list[str | None] = [None] * len(lines)
    if not rules.enabled:
        return reasons
    title_key = _SPACE.sub("", title)
    linky = [
        ln.chars > 0 and not ln.code and ln.link_share >= rules.max_link_share and not _is_title(ln, title_key)
        for ln in lines
    ]
    # link lists: runs of link lines; blank lines, marker-only lines and short non-prose lines between
    # them (dates, categories under each teaser headline) do not break a run and go with it
    i, n = 0, len(lines)
    while i < n:
        if not linky[i]:
            i += 1
            continue
        j, members, last, gap = i, [], i, 0
        while j < n:
            if linky[j]:
                members.append(j)
                last, gap = j, 0
            elif lines[j].chars:
                gap += 1
                if gap > MAX_FILLER_LINES or not _is_filler(lines[j]):
                    break
            j += 1
        if len(members) >= rules.min_link_run:
            for k in range(i, last + 1):
                if lines[k].chars:
                    reasons[k] = "link_list"
        i = last + 1
    section = ""  # "related": until the next paragraph of prose; "ad": only the ad's own link lines
    for k, ln in enumerate(lines):
        if ln.chars == 0 or ln.code:
            continue
        v = ln.visible
        if rules.related_sections:
            if is_related_heading(v):
                reasons[k], section = reasons[k] or "related_section", "related"
                continue
            if len(v) <= 30 and AD_LABEL.match(normalize_label(v) or ""):
                reasons[k], section = reasons[k] or "related_section", "ad"
                continue
            if section == "related" and not _is_prose(v) or section == "ad" and linky[k]:
                reasons[k] = reasons[k] or "related_section"
                continue
            section = ""
        if reasons[k]:
            continue
        if rules.consent_notices and _CONSENT_TOPIC.search(v) and _CONSENT_ACT.search(v):
            reasons[k] = "consent_notice"
        elif rules.bylines and ln.chars <= 40 and (
            (_DATE.search(v) and _TIME.search(v)) or _BYLINE.match(v) or _DATE_LABEL.match(v)
        ) and not _is_title(ln, title_key):
            reasons[k] = "byline"
        elif rules.credit_lines and _CREDIT.match(v):
            reasons[k] = "credit_line"
        elif rules.ui_labels and ln.chars <= 20 and is_navigation_label(v, 15 if not _SENTENCE_END.search(v) else 0):
            reasons[k] = "ui_label"
        elif rules.copyright_lines and ln.chars <= 60 and COPYRIGHT_AD.search(v) and not _SENTENCE_END.search(v[-1:]):
            reasons[k] = "copyright"
    return reasons


def drop_boilerplate_lines(text: str, rules: LineRules, title: str = "") -> tuple[str, Counter]:
    """``text`` without its boilerplate lines, and the number of lines dropped per reason.

    Link markers are removed from the result; image and code markers of kept lines stay where they
    were (lines of a code block are never dropped one by one).
    """
    reasons = line_reasons(text, rules, title)
    kept, dropped = [], Counter()
    for raw, reason in zip(text.split("\n"), reasons, strict=True):
        if reason is None:
            kept.append(raw.replace(LINK_OPEN, "").replace(LINK_CLOSE, ""))
        else:
            dropped[reason] += 1
    return "\n".join(kept), dropped

