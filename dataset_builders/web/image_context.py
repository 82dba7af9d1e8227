"""Which ``<img>`` are worth downloading, decided from the HTML before anything is fetched.

OBELICS decides on an image's *rendered* size before downloading it; pages tell us what they render
through ``width`` / ``height`` attributes and inline ``style`` (:mod:`.declared_size`). Rules (each a named drop reason,
counted as ``media_dropped_<reason>``):

* ``tracking_pixel`` — a declared side of at most ``max_pixel_side`` px (1×1 beacons, spacers);
* ``declared_too_small`` / ``declared_bad_aspect`` — the declared size fails the size rule the
  builder applies after download (``web.image_size``: shorter side ≥ 150, aspect 0.5–2); a single
  declared side below the minimum is enough. Percentages and ``auto`` declare nothing;
* ``placeholder`` — the file name says it is a stand-in or a beacon (``noimage.png``, ``spacer.gif``,
  ``loading.gif``, ``dummy.jpg``, ``blank.png``, ``noscript-image.gif``).

Links: an image inside ``<a href>`` to another HTML page of which the page shows a headline
(the link's own text, another link to the same address with text, or the image's own alt: ≥
``teaser_min_chars`` characters with Japanese) is a *teaser* of that page; when the headline is only the alt, the page must
also show it as text (a card whose title sits outside the link). It is marked ``metadata["teaser"]`` rather than
dropped here — its alt may still be a good caption for the pairs builder, which judges the alt (and
drops alts that merely repeat the headline) — and the interleaved builder drops it
(:class:`ContentImagesOnly`). ``metadata["link_text"]`` keeps the headline for the alt rules.
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from dataset_builders.image_checks import SizeRules, check_size
from dataset_builders.text.chars import count_content_chars, has_japanese
from dataset_builders.web.image_urls import url_extension

PLACEHOLDER_WORDS = (
    "noimage", "no_image", "no-image", "nophoto", "no_photo", "no-photo", "noimg", "no_img", "placeholder",
    "spacer", "blank", "dummy", "transparent", "loading", "loader", "spinner", "lazyload", "1x1", "pixel",
    "beacon", "tracking", "noscript",
)
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "bmp", "avif", "svg"})

_LINK_RE = re.compile(r"<a\b([^>]*)>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HREF_RE = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")
_LINK_MARKS = re.compile("[\ufdd0-\ufdef]")


@dataclass(frozen=True)
class ImageRules:
    """Pre-download image rules (module docstring). Config key ``web.extract.images``."""

    enabled: bool = True
    declared_size: bool = True
    max_pixel_side: int = 2
    placeholder_words: tuple[str, ...] = PLACEHOLDER_WORDS
    teaser_min_chars: int = 8


def size_drop_reason(width: int | None, height: int | None, rules: ImageRules, size: SizeRules) -> str | None:
    """``tracking_pixel`` / ``declared_too_small`` / ``declared_bad_aspect`` from a declared size, else None."""
    sides = [s for s in (width, height) if s is not None]
    if not sides or not rules.declared_size:
        return None
    if min(sides) <= rules.max_pixel_side:
        return "tracking_pixel"
    if min(sides) < size.min_side:
        return "declared_too_small"
    if width is not None and height is not None and check_size(width, height, size) == "bad_aspect_ratio":
        return "declared_bad_aspect"
    return None


def is_placeholder(url: str, rules: ImageRules) -> bool:
    """True when the URL's file name says the image is a stand-in (``noimage.png``, ``spacer.gif``)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1].lower()
    return any(w in name for w in rules.placeholder_words)


def _clean_link_text(raw: str) -> str:
    return _SPACES.sub(" ", htmllib.unescape(_LINK_MARKS.sub("", _TAG_RE.sub(" ", raw)))).strip()


class PageLinks:
    """``href`` as written → the longest text any ``<a>`` with it shows (one regex over the HTML, no DOM
    walk; texts cleaned only when asked for)."""

    def __init__(self, html: str):
        self._raw: dict[str, list[str]] = {}
        for m in _LINK_RE.finditer(html):
            hm = _HREF_RE.search(m.group(1))
            if hm:
                href = htmllib.unescape(next(g for g in hm.groups() if g is not None)).strip()
                self._raw.setdefault(href, []).append(m.group(2))

    def text(self, href: str) -> str:
        texts = [_clean_link_text(raw) for raw in self._raw.get((href or "").strip(), ())]
        return max(texts, key=len, default="")


def _same_page(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.netloc.lower() == pb.netloc.lower() and pa.path.rstrip("/") == pb.path.rstrip("/")


def is_headline(text: str, min_chars: int) -> bool:
    """A link text that names another page: long enough and Japanese (a product code is not a headline)."""
    return count_content_chars(text) >= min_chars and has_japanese(text)


def teaser_link(
    href: str | None, page_url: str, own_text: str, page_links: PageLinks, rules: ImageRules, alt: str = "",
    raw_href: str = "",
) -> tuple[bool, str]:
    """(is a teaser, the page's headline for the link) for an image inside a link to ``href``.

    A teaser links to another HTML page that the page names in a headline — the link's own text,
    another link to the same address, or the image's alt. The headline returned is the page's text
    only (never the alt), so that the alt rules can ask whether the alt merely repeats it.
    """
    if not href or (page_url and _same_page(href, page_url)) or url_extension(href) in IMAGE_EXTENSIONS:
        return False, ""
    for text in (own_text, page_links.text(raw_href)):
        if is_headline(text, rules.teaser_min_chars):
            return True, text
    return is_headline(alt, rules.teaser_min_chars), ""


_KEY = re.compile(r"[\W_]+")


def shown_text_key(text: str) -> str:
    """The page's text as a search key: markers, whitespace and punctuation removed, NFKC, case folded."""
    return _KEY.sub("", unicodedata.normalize("NFKC", _LINK_MARKS.sub("", text)).casefold())


def page_shows(shown_key: str, alt: str, min_chars: int = 12) -> bool:
    """True when the page's text (:func:`shown_text_key`) shows the alt's opening words as text too."""
    key = _KEY.sub("", unicodedata.normalize("NFKC", alt).casefold())[:min_chars]
    return len(key) >= min(min_chars, 8) and key in shown_key


@dataclass(frozen=True)
class ContentImageRules:
    """Which extracted images the interleaved builder keeps (config key ``content_images``)."""

    drop_teasers: bool = True  # images linking to another article whose headline the page shows
    drop_outside_text: bool = True  # images whose place in the text was removed as boilerplate


class ContentImagesOnly(PipelineStep):
    """Interleaved builder: keep only images that illustrate the article (before any download).

    Drops ``media_dropped_teaser`` (a thumbnail of another page, see :func:`teaser_link`) and
    ``media_dropped_outside_text`` (its line of the page was removed as boilerplate). Documents
    always pass; they may end up with no image, which the document rules count later.
    """

    name = "🖼 content images only"
    type = "🖼 - IMAGES"

    def __init__(self, rules: ContentImageRules | None = None):
        super().__init__()
        self.rules = rules or ContentImageRules()

    def _reason(self, meta: dict) -> str | None:
        if self.rules.drop_teasers and meta.get("teaser"):
            return "teaser"
        if self.rules.drop_outside_text and meta.get("in_main_content") is False:
            return "outside_text"
        return None

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            kept = []
            for m in doc.media:
                reason = self._reason(m.metadata or {})
                if reason is None:
                    kept.append(m)
                else:
                    self.stat_update(f"media_dropped_{reason}")
            doc.media = kept
            self.stat_update("media_kept", value=len(kept))
            yield doc
