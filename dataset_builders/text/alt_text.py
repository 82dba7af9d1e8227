"""Alt-text rules of the pairs builder (paper §3, COYO-style), as pure functions and one filter.

Order (first failing rule names the drop): normalisation (whitespace; a trailing 「 画像」「（写真）」
label cut off, so 「見出し 画像」 and 「見出し」 are the same text for the (pHash, alt) dedup) →
``no_japanese`` → ``too_short`` → ``filename_like`` → the caption rules (:class:`CaptionRules`:
``generic``, ``navigation``, ``teaser``, ``page_title``, ``copyright_ad``) → ``adult``. Each ``rule_*`` function takes the *normalised* text
and returns None to keep it or the drop reason. :func:`alt_text_drop_reason` runs the chain;
:class:`AltTextFilter` runs it inside a datatrove pipeline on documents whose ``text`` is the alt
text (it writes the normalised text back to ``doc.text``, which later corpus-wide rules count).

Caption rules (on the labelled pages only 31 of 834 non-empty alts are usable captions; the rest say
"image", label a menu, repeat another article's headline, or name the site): each matches a *kind* of
text, never a site —

* ``generic``: the whole alt only says "image" (「写真」「写真・図版」「（クリックして拡大）」「[cover photo]」);
* ``navigation``: a button or menu label (「TOPへ戻る」「閉じる」「製品詳細へ」), or a short text ending
  like one (「…へ」「…はこちら」「…のお問い合わせ」「…の購読申し込み」);
* ``teaser``: the headline of another page — the image links to another page whose headline the
  page shows and the alt repeats it (the extractor's ``link_text``), or the alt opens with a
  headline tag such as 【特集】【連載】【PR】;
* ``page_title``: the page's own title used as the alt of its lead image (it names the article, it
  does not describe the picture);
* ``copyright_ad``: copyright and licence lines, ad labels (「©」「All Rights Reserved」「広告掲載」).

Frequent boilerplate left over (a site's own recurring alts) is removed by the corpus-wide rule
(alt texts seen ≥ 10 times), which is a separate two-pass step.

``too_short``: the length that counts is the number of *meaningful* characters (kana, kanji, Latin
letters, digits — :func:`~dataset_builders.text.chars.count_content_chars`), so ``「 」``, ``★★``
or an emoji do not make a text long. The default minimum is 2: Japanese content words are mostly
two or more characters (写真, 矢印, 富士山), a single character (``×``, ``犬``, ``…``) says almost
nothing about an image, and 2 keeps two-kanji words. On the 816 non-empty real alts of
``realdata/html/ja`` a minimum of 2 drops no text that has Japanese (``×``, ``…`` already fail
``no_japanese``); a minimum of 3 would drop 20 two-character words such as 検索, 矢印, 購入, 収納.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.text.chars import count_content_chars, has_japanese
from dataset_builders.text.filenames import is_filename_like
from dataset_builders.text.harmful import HarmfulTextChecker, KeywordMatching
from dataset_builders.text.ui_words import COPYRIGHT_AD as COPYRIGHT_AD_TEXT
from dataset_builders.text.ui_words import is_generic_image_text, is_navigation_label
from dataset_builders.text.whitespace import normalize_whitespace

DEFAULT_MIN_CHARS = 2

NO_JAPANESE = "no_japanese"
TOO_SHORT = "too_short"
FILENAME_LIKE = "filename_like"
ADULT = "adult"
GENERIC = "generic"
NAVIGATION = "navigation"
TEASER = "teaser"
PAGE_TITLE = "page_title"
COPYRIGHT_AD = "copyright_ad"
#: Every reason the chain can return, in the order the rules run.
REASONS = (NO_JAPANESE, TOO_SHORT, FILENAME_LIKE, GENERIC, NAVIGATION, TEASER, PAGE_TITLE, COPYRIGHT_AD, ADULT)

# 「見出し 画像」「写真（拡大）」: a generic label glued to the end (or start) of a real text
_GENERIC_SUFFIX = re.compile(
    r"(?:[\s\u3000]+|[\s\u3000]*[-–—|｜:：/／]\s*)[\[［(（【〔]?(?:画像|写真|イメージ|サムネイル|image|photo)"
    r"(?:を拡大|拡大)?[\]］)）】〕]?$|[\s\u3000]*[\[［(（【〔](?:画像|写真|イメージ|拡大|クリックして拡大)[\]］)）】〕]$",
    re.IGNORECASE,
)
_GENERIC_PREFIX = re.compile(r"^[\[［(（【〔](?:画像|写真|イメージ)[\]］)）】〕]\s*")
_HEADLINE_TAG = re.compile(
    r"^[【\[［](?:特集|連載|速報|pr|広告|独占|動画|新着|ニュース|レビュー|インタビュー|注目|話題|限定|キャンペーン|セール"
    r"|告知|お知らせ|イベント|コラム|まとめ)[^】\]］]{0,12}[】\]］]",
    re.IGNORECASE,
)
_KEY = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class CaptionRules:
    """Which caption rules run (config ``alt_text.caption``); each drop is named after its rule."""

    generic: bool = True
    navigation: bool = True
    teaser: bool = True
    page_title: bool = True
    copyright_ad: bool = True
    max_navigation_chars: int = 20  # a UI-label ending only counts on texts this short
    min_repeat_chars: int = 6  # shared headline length that makes an alt a teaser


NO_CAPTION_RULES = CaptionRules(False, False, False, False, False)


def normalize_alt(text: str) -> str:
    """Whitespace normalised and a glued generic label removed: 「見出し 画像」 → 「見出し」."""
    t = normalize_whitespace(text)
    stripped = _GENERIC_PREFIX.sub("", _GENERIC_SUFFIX.sub("", t)).strip()
    return stripped if stripped else t


def _key(text: str) -> str:
    return _KEY.sub("", unicodedata.normalize("NFKC", text).casefold())


def repeats(alt: str, other: str, min_chars: int) -> bool:
    """True when ``alt`` and ``other`` are the same headline (one holds the other, or they open alike)."""
    a, b = _key(alt), _key(other)
    if len(a) < min_chars or len(b) < min_chars:
        return a == b and bool(a)
    head = a[: max(min_chars, min(len(a), 12))]
    return a in b or b in a or head in b


def rule_caption(
    text: str, rules: CaptionRules, link_text: str = "", page_title: str = ""
) -> str | None:
    """The caption rules on a normalised alt (see the module docstring); None keeps it."""
    if rules.generic and is_generic_image_text(text):
        return GENERIC
    if rules.navigation and is_navigation_label(text, rules.max_navigation_chars):
        return NAVIGATION
    if rules.teaser and (
        (link_text and repeats(text, link_text, rules.min_repeat_chars)) or _HEADLINE_TAG.match(text)
    ):
        return TEASER
    if rules.page_title and page_title and repeats(text, page_title, rules.min_repeat_chars):
        return PAGE_TITLE
    if rules.copyright_ad and COPYRIGHT_AD_TEXT.search(text):
        return COPYRIGHT_AD
    return None


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
    caption: CaptionRules = NO_CAPTION_RULES,
    link_text: str = "",
    page_title: str = "",
) -> str | None:
    """Normalise ``text`` and run the whole chain; None keeps it, else the first drop reason.

    ``caption`` defaults to no caption rules (the paper's per-text chain); the pairs builder passes
    its configured :class:`CaptionRules` with the image's ``link_text`` and the page's title.
    """
    text = normalize_alt(text)
    return (
        rule_japanese(text)
        or rule_min_length(text, min_chars)
        or rule_filename(text)
        or rule_caption(text, caption, link_text, page_title)
        or (rule_adult(text, adult_checker or default_adult_checker()) if check_adult else None)
    )


class AltTextFilter(BaseFilter):
    """Datatrove filter over documents whose ``text`` is an alt text.

    Normalises ``doc.text`` in place (the raw text is kept in ``doc.metadata["alt_raw"]`` when it
    changed), then drops with one of :data:`REASONS`. The caption rules read the image's
    ``link_text`` (set by the extractor) and the page title (``doc.metadata["page_title"]``).
    """

    name = "🏷️ alt-text rules"

    def __init__(
        self,
        min_chars: int = DEFAULT_MIN_CHARS,
        check_adult: bool = True,
        ignore_confused: bool = True,
        exclusion_writer=None,
        caption: CaptionRules = NO_CAPTION_RULES,
        matching: KeywordMatching | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        self.matching = matching or KeywordMatching()
        self.min_chars = min_chars
        self.check_adult = check_adult
        self.ignore_confused = ignore_confused
        self.caption = caption
        self._checker: HarmfulTextChecker | None = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.check_adult and self._checker is None:
            self._checker = HarmfulTextChecker(("adult",), self.ignore_confused, self.matching)
        text = normalize_alt(doc.text)
        if text != doc.text:
            doc.metadata["alt_raw"] = doc.text
            doc.text = text
        meta = (doc.media[0].metadata or {}) if doc.media else {}
        reason = alt_text_drop_reason(
            text, self.min_chars, self._checker, self.check_adult, self.caption,
            meta.get("link_text") or "", doc.metadata.get("page_title") or "",
        )
        return True if reason is None else (False, reason)
