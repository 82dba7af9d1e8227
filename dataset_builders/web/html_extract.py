"""HTML page → main text plus the page's images in page order, each placed relative to the text.

Main text (:class:`ExtractRules`, config ``web.extract``): page chrome removed from the DOM
(:mod:`.chrome`), resiliparse ``extract_plain_text`` over what is left (its own main-content
detection only with ``main_content: true``), boilerplate lines dropped (:mod:`.boilerplate`), ``<pre>``
blocks kept whole (``code_spans``). Against the hand-labelled pages (``ja-vila quality``) main-text
F1 is 0.904 (0.841 for resiliparse's main content alone); the whole function runs at ~2.3× trafilatura
+ a regex ``<img>`` pass (``bench/extraction_quality.py``).

Images: every ``<img>`` of the page outside chrome, its URL chosen and checked by :mod:`.image_urls`,
its declared size, placeholder names and link checked before download (:mod:`.image_context`),
duplicates collapsed to the first occurrence (keeping the first non-empty alt). Where an image sits: before extraction a marker
character run is inserted next to each ``<img>`` (before the outermost ``<figure>``, which
resiliparse drops as a whole); markers that survive main-content extraction give the exact character
offset in the text (``in_main_content=True``). Images outside the main content get the offset of the
end of the last main-text paragraph that precedes them in a full-page extraction (computed only when
needed). ``media.metadata``: ``page_index`` (order among kept images), ``image_index`` (position
among all the page's ``<img>`` elements), ``text_offset`` (characters of ``doc.text`` before the
image), ``in_main_content``, ``src_attr``, ``width``/``height`` when the tag declares them in
pixels (attributes or inline style, :mod:`.declared_size`), ``teaser`` / ``link_text`` for a
thumbnail of another page.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field

from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.pipeline.base import PipelineStep
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import DOMNode, HTMLTree, NodeType

from dataset_builders.image_checks import MMC4_RULES, SizeRules
from dataset_builders.keys import make_key
from dataset_builders.web.boilerplate import (
    CODE_CLOSE,
    CODE_OPEN,
    LineRules,
    drop_boilerplate_lines,
    drop_code_blocks,
    mark_links,
)
from dataset_builders.web.chrome import ChromeRules, PageChrome, mark_chrome_names
from dataset_builders.web.declared_size import declared_size
from dataset_builders.web.image_context import (
    ImageRules,
    PageLinks,
    is_placeholder,
    page_shows,
    shown_text_key,
    size_drop_reason,
    teaser_link,
)
from dataset_builders.web.image_urls import ImageUrlRules, choose_img_url, document_base, resolve_url

logger = logging.getLogger(__name__)

# Markers: U+FDD0 <hex digits as U+FDE0..U+FDEF> U+FDD1 — Unicode noncharacters, never real text.
_M_OPEN, _M_CLOSE, _M_DIGIT0 = "\ufdd0", "\ufdd1", 0xFDE0
_MARKER_RE = re.compile("\ufdd0([\ufde0-\ufdef]+)\ufdd1")
_ANY_MARKER_RE = re.compile("\ufdd0([\ufde0-\ufdef]+)\ufdd1|\ufdd6|\ufdd7")
_NONCHAR_RE = re.compile("[\ufdd0-\ufdef]")
_NONCHAR_LINK_RE = re.compile("[\ufdd4\ufdd5]")
_SPACES = re.compile(r"[ \t\u3000]*\n")
_MANY_NL = re.compile(r"\n{3,}")
_WS_RUN = re.compile(r"\s+")
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uffef"
_CJK_WRAP = re.compile(f"(?<=[{_CJK}])[ \\t]*[\\r\\n]\\s*(?=[{_CJK}])")


def clean_attr_text(value: str | None) -> str:
    """Alt/title text as shown: line wraps between Japanese characters removed, other whitespace collapsed."""
    if not value:
        return ""
    return _WS_RUN.sub(" ", _CJK_WRAP.sub("", value)).strip()


def _clean_link(text: str) -> str:
    return _WS_RUN.sub(" ", _NONCHAR_RE.sub("", text or "")).strip()


def _marker(i: int) -> str:
    return _M_OPEN + "".join(chr(_M_DIGIT0 + int(d, 16)) for d in format(i, "x")) + _M_CLOSE


def _marker_id(digits: str) -> int:
    return int("".join(format(ord(c) - _M_DIGIT0, "x") for c in digits), 16)


class ExtractError(ValueError):
    """The HTML could not be parsed."""


CODE_BLOCK_CHOICES = ("keep", "drop", "split")


@dataclass(frozen=True)
class ExtractRules:
    """What counts as the article on a page: DOM chrome (:mod:`.chrome`) and boilerplate lines
    (:mod:`.boilerplate`). Config key ``web.extract``."""

    chrome: ChromeRules = field(default_factory=ChromeRules)
    lines: LineRules = field(default_factory=LineRules)
    images: ImageRules = field(default_factory=ImageRules)
    #: ``<pre>`` blocks: ``keep`` (one unit: the sentence splitter never cuts inside), ``drop`` (removed
    #: whole, counted ``lines_dropped_code_block``) or ``split`` (plain text, as before).
    code_blocks: str = "keep"
    #: resiliparse's own main-content detection on top of ours (text density, its class heuristics).
    #: Off by default: on the labelled pages it drops article tables, embedded posts and lists
    #: (main-text F1 0.876 with it, 0.904 without, image recall 0.76 with it, 0.94 without; ``ja-vila quality``).
    main_content: bool = False

    def __post_init__(self) -> None:
        if self.code_blocks not in CODE_BLOCK_CHOICES:
            raise ValueError(f"web.extract.code_blocks: {self.code_blocks!r}; choose one of {CODE_BLOCK_CHOICES}")


#: The rules before issue 15 (resiliparse's main content as it is, no chrome or line rules): the
#: baseline ``bench/extraction_quality.py`` compares against.
NO_CONTENT_RULES = ExtractRules(
    chrome=ChromeRules(enabled=False), lines=LineRules(enabled=False), images=ImageRules(enabled=False),
    code_blocks="split", main_content=True,
)


@dataclass
class ExtractedPage:
    text: str
    title: str
    lang: str
    images: list[Media]
    dropped: Counter = field(default_factory=Counter)  # dropped image reasons on this page
    dropped_lines: Counter = field(default_factory=Counter)  # boilerplate lines removed, by reason
    code_spans: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each code block in text


#: Above this many <img>, walk the DOM instead of indexing resiliparse's node list (each index re-runs
#: the selector up to that element, so iterating it is quadratic: 0.24 s for sanwa.co.jp's 356 images).
_WALK_ABOVE = 128


def _admit_url(raw: str, base: str, rules: ImageUrlRules, dropped: Counter) -> str | None:
    """The absolute image URL if it resolves and passes the URL rules; else None, counted in ``dropped``."""
    url = resolve_url(raw, base)
    if url is None:
        dropped["bad_url"] += 1
        return None
    reason = rules.check(url)
    if reason:
        dropped[reason] += 1
        return None
    return url


def _iter_elements(root: DOMNode, tag: str):
    """Elements named ``tag`` under ``root`` in document order (iterative pre-order walk)."""
    node = root.first_child
    while node is not None:
        if node.type == NodeType.ELEMENT:
            if node.tag == tag:
                yield node
            child = node.first_child
            if child is not None:
                node = child
                continue
        while node is not None and node.next is None:
            node = node.parent
            if node is None or node == root:
                return
        node = node.next


def _images_in_order(doc_el: DOMNode) -> list[DOMNode]:
    found = doc_el.query_selector_all("img")
    if len(found) > _WALK_ABOVE:
        return list(_iter_elements(doc_el, "img"))
    return list(found)


def _strip_markers(text: str) -> tuple[str, dict[int, int], list[tuple[int, int]]]:
    """Remove markers from ``text`` and tidy the blank lines they leave; return offsets per image
    marker id and the (start, end) of every code block."""
    out: list[str] = []
    size = 0
    offsets: dict[int, int] = {}
    code: list[tuple[int, int]] = []
    code_open: int | None = None
    pos = 0

    def append(part: str) -> None:
        nonlocal size
        if not part:
            return
        if (not out or out[-1].endswith("\n")) and part.startswith(("\n", " ")) and code_open is None:
            part = part.lstrip("\n ")
        elif out and out[-1].endswith(" ") and part.startswith(" "):
            part = part[1:]
        if part:
            out.append(part)
            size += len(part)

    for m in _ANY_MARKER_RE.finditer(text):
        append(text[pos : m.start()])
        pos = m.end()
        if m.group(1):
            offsets.setdefault(_marker_id(m.group(1)), size)
        elif m.group(0) == CODE_OPEN:
            code_open = size
        elif code_open is not None:
            code.append((code_open, size))
            code_open = None
    append(text[pos:])
    joined = "".join(out)
    stripped = joined.rstrip()
    lead = len(stripped) - len(stripped.lstrip())
    stripped = stripped.lstrip()
    n = len(stripped)

    def clip(v: int) -> int:
        return min(max(v - lead, 0), n)

    spans = [(clip(a), clip(b)) for a, b in code if clip(b) > clip(a)]
    return stripped, {k: clip(v) for k, v in offsets.items()}, spans


def _mark_code_blocks(tree: HTMLTree, doc_el: DOMNode) -> None:
    """Put CODE_OPEN / CODE_CLOSE inside every outermost ``<pre>`` so the block can be found in the text."""
    pres = doc_el.query_selector_all("pre")
    for pre in [pres[i] for i in range(len(pres))]:
        if pre.parent is not None and pre.parent.closest("pre") is not None:
            continue
        first = pre.first_child
        opener = tree.create_text_node(CODE_OPEN)
        if first is not None:
            pre.insert_before(opener, first)
        else:
            pre.append_child(opener)
        pre.append_child(tree.create_text_node(CODE_CLOSE))


def _snap_forward(text: str, offset: int) -> int:
    """Move an offset over whitespace so 'after paragraph k' points at the start of paragraph k+1."""
    n = len(text)
    while offset < n and text[offset].isspace():
        offset += 1
    return offset


def _align_lost(main_text: str, full_marked: str, lost: set[int]) -> dict[int, int]:
    """Offsets in ``main_text`` for markers that exist only in the full-page extraction."""
    full_text, full_offsets, _ = _strip_markers(full_marked)
    # (position in full text where a main paragraph ends, offset in main text where it ends)
    anchors: list[tuple[int, int]] = []
    cursor, pos = 0, 0
    for line in main_text.split("\n"):
        start = pos
        pos += len(line) + 1
        if not line.strip():
            continue
        found = full_text.find(line, cursor)
        if found < 0:
            continue
        cursor = found + len(line)
        anchors.append((cursor, start + len(line)))
    out = {}
    for mid in lost:
        fpos = full_offsets.get(mid)
        if fpos is None:
            continue
        off = 0
        for full_end, main_end in anchors:
            if full_end <= fpos:
                off = main_end
            else:
                break
        out[mid] = _snap_forward(main_text, off) if off else 0
    return out


def extract_page(
    html: str,
    page_url: str,
    rules: ImageUrlRules | None = None,
    content: ExtractRules | None = None,
    size_rules: SizeRules = MMC4_RULES,
) -> ExtractedPage:
    """Main text, title, ``<html lang>`` and images (as ``Media``, page order) of one HTML page."""
    rules = rules or ImageUrlRules()
    content = content or ExtractRules()
    if _NONCHAR_RE.search(html):
        html = _NONCHAR_RE.sub("", html)
    if content.lines.enabled:
        html = mark_links(html)
    if content.chrome.enabled:
        html = mark_chrome_names(html, content.chrome)
    try:
        tree = HTMLTree.parse(html)
    except Exception as e:  # lexbor raises its own exception types
        raise ExtractError(f"cannot parse HTML of {page_url}: {e}") from e
    doc_el = tree.document
    if doc_el is None or tree.body is None:
        raise ExtractError(f"no <body> in HTML of {page_url}")
    title = _WS_RUN.sub(" ", tree.title or "").strip()
    html_el = doc_el.query_selector("html")
    lang = ((html_el.getattr("lang") if html_el is not None else None) or "").strip()
    base_el = doc_el.query_selector("base[href]")
    base = document_base(page_url, base_el.getattr("href") if base_el is not None else None)

    dropped: Counter = Counter()
    dropped_text: Counter = Counter()
    chrome = PageChrome(tree, content.chrome)
    # candidates: (marker id, url, alt, src_attr, width, height) — duplicates collapsed by URL
    kept: dict[str, dict] = {}
    has_figure = doc_el.query_selector("figure") is not None
    page_links: PageLinks | None = None
    for i, img in enumerate(_images_in_order(doc_el)):
        attrs = {a: img.getattr(a) for a in img.attrs}
        if chrome.enabled:
            kind = chrome.kind_of(img)
            if kind is not None:
                dropped[f"chrome_{kind}"] += 1
                continue
        raw, how = choose_img_url(attrs)
        if raw is None:
            dropped[how] += 1
            continue
        url = _admit_url(raw, base, rules, dropped)
        if url is None:
            continue
        width, height = declared_size(attrs)
        if content.images.enabled:
            reason = size_drop_reason(width, height, content.images, size_rules)
            if reason is None and is_placeholder(url, content.images):
                reason = "placeholder"
            if reason:
                dropped[reason] += 1
                continue
        alt = clean_attr_text(attrs.get("alt"))
        if url in kept:
            dropped["duplicate"] += 1
            if not kept[url]["alt"] and alt:
                kept[url]["alt"] = alt
            continue
        teaser, link_text = False, ""
        if content.images.enabled:
            link = img.closest("a[href]")
            if link is not None:
                if page_links is None:
                    page_links = PageLinks(html)
                raw_href = link.getattr("href") or ""
                href = resolve_url(raw_href, base)
                teaser, link_text = teaser_link(
                    href, page_url, _clean_link(link.text), page_links, content.images, alt, raw_href
                )
        kept[url] = {"mid": i, "alt": alt, "src_attr": how, "width": width, "height": height,
                     "teaser": teaser, "link_text": link_text}
        # place the marker next to the image, or before its outermost <figure> (dropped by resiliparse)
        anchor = img
        if has_figure:
            node = img.parent
            while node is not None and node.tag not in ("body", "html", "#document"):
                if node.tag == "figure":
                    anchor = node
                node = node.parent
        parent = anchor.parent
        if parent is not None:
            marker = tree.create_text_node(_marker(i))
            if anchor is img:
                parent.insert_before(marker, img.next)
            else:
                parent.insert_before(marker, anchor)

    chrome.remove()
    if content.code_blocks in ("keep", "drop"):
        _mark_code_blocks(tree, doc_el)
    marked = extract_plain_text(tree, main_content=content.main_content, alt_texts=False, list_bullets=False)
    whole_page = None if content.main_content else marked  # the full text, before any line is dropped
    if any(v["teaser"] and not v["link_text"] for v in kept.values()):
        # a thumbnail whose link has no headline of its own (card layouts): the headline is the alt if
        # the page also shows it as text
        shown = shown_text_key(marked)
        for v in kept.values():
            if v["teaser"] and not v["link_text"] and page_shows(shown, v["alt"]):
                v["link_text"] = v["alt"]
    if content.lines.enabled:
        marked, dropped_lines = drop_boilerplate_lines(marked, content.lines, title)
        for reason, n in dropped_lines.items():
            dropped_text[reason] += n
    if content.code_blocks == "drop":
        marked, n_code = drop_code_blocks(marked)
        if n_code:
            dropped_text["code_block"] += n_code
    text, offsets, code_spans = _strip_markers(marked)
    lost = {v["mid"] for v in kept.values()} - offsets.keys()
    aligned = {}
    if lost and text:
        full = whole_page or extract_plain_text(tree, main_content=False, alt_texts=False, list_bullets=False)
        aligned = _align_lost(text, _NONCHAR_LINK_RE.sub("", full), lost)

    images = []
    for k, (url, v) in enumerate(kept.items()):
        mid = v["mid"]
        meta = {"page_index": k, "image_index": mid, "in_main_content": mid in offsets,
                "text_offset": offsets.get(mid, aligned.get(mid, 0)), "src_attr": v["src_attr"]}
        if v["width"] is not None:
            meta["width"] = v["width"]
        if v["height"] is not None:
            meta["height"] = v["height"]
        if v["teaser"]:
            meta["teaser"] = True
        if v["link_text"]:
            meta["link_text"] = v["link_text"]
        images.append(Media(id=make_key(page_url, url), type=MediaType.IMAGE, url=url, alt=v["alt"], metadata=meta))
    return ExtractedPage(text=text, title=title, lang=lang, images=images, dropped=dropped, dropped_lines=dropped_text,
                         code_spans=code_spans)


def filter_media(doc_url: str, media: list[Media], rules: ImageUrlRules) -> tuple[list[Media], Counter]:
    """Apply the URL rules and duplicate collapsing to images that came without HTML (corpus JSONL)."""
    dropped: Counter = Counter()
    kept: dict[str, Media] = {}
    for m in media:
        raw = (m.url or "").strip()
        if not raw:
            dropped["no_src"] += 1
            continue
        if raw.lower().startswith("data:"):
            dropped["data_uri"] += 1
            continue
        url = _admit_url(raw, doc_url, rules, dropped)
        if url is None:
            continue
        alt = clean_attr_text(m.alt)
        if url in kept:
            dropped["duplicate"] += 1
            if not kept[url].alt and alt:
                kept[url].alt = alt
            continue
        meta = dict(m.metadata or {})
        meta.setdefault("page_index", len(kept))
        kept[url] = Media(id=m.id or make_key(doc_url, url), type=MediaType.IMAGE, url=url, alt=alt, metadata=meta)
    return list(kept.values()), dropped


class HtmlExtractor(PipelineStep):
    """Turns documents whose ``text`` is HTML (``metadata["content_format"] == "html"``) into main text + images.

    Documents that already hold plain text (corpus JSONL ``text`` records) keep their text; their
    images go through the same URL rules. Per-image drops are counted as ``media_dropped_<reason>``;
    documents are dropped and counted as ``dropped_extract_error`` (unparseable HTML or an unexpected
    error, logged with the document id) or ``dropped_empty_text``. ``media_kept`` counts images kept;
    boilerplate lines removed are ``lines_dropped_<reason>`` and the lines kept ``lines_kept``.
    """

    name = "🖼 HTML → text + images"
    type = "🛢 - EXTRAC"

    def __init__(
        self,
        rules: ImageUrlRules | None = None,
        keep_html: bool = False,
        content: ExtractRules | None = None,
        size_rules: SizeRules = MMC4_RULES,
    ):
        super().__init__()
        self.rules = rules or ImageUrlRules()
        self.keep_html = keep_html
        self.content = content or ExtractRules()
        self.size_rules = size_rules

    def process(self, doc: Document) -> Document | None:
        """Extract one document in place; returns None (after counting why) when it must be dropped."""
        url = doc.metadata.get("url") or ""
        if doc.metadata.get("content_format") == "html":
            html = doc.text
            try:
                page = extract_page(html, url, self.rules, self.content, self.size_rules)
            except ExtractError as e:
                self.stat_update("dropped", "dropped_extract_error")
                logger.warning("dropping %s: %s", doc.id, e)
                return None
            doc.text = page.text
            doc.media = page.images
            if page.code_spans:
                doc.metadata["code_spans"] = [list(span) for span in page.code_spans]
            if page.title:
                doc.metadata.setdefault("title", page.title)
            if page.lang:
                doc.metadata.setdefault("html_lang", page.lang)
            doc.metadata["content_format"] = "text"
            if self.keep_html:
                doc.metadata["html"] = html
            dropped = page.dropped
            for reason, n in page.dropped_lines.items():
                self.stat_update(f"lines_dropped_{reason}", value=n)
            self.stat_update("lines_kept", value=sum(1 for line in page.text.split("\n") if line.strip()))
        else:
            doc.media, dropped = filter_media(url, list(doc.media), self.rules)
        for reason, n in dropped.items():
            self.stat_update(f"media_dropped_{reason}", value=n)
        self.stat_update("media_kept", value=len(doc.media))
        if not doc.text.strip():
            self.stat_update("dropped", "dropped_empty_text")
            return None
        return doc

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("total")
            with self.track_time():
                try:
                    out = self.process(doc)
                except Exception as e:  # one bad page never stops the run
                    self.stat_update("dropped", "dropped_extract_error")
                    logger.warning("dropping %s: extraction failed: %r", doc.id, e)
                    out = None
            if out is None:
                continue
            self.stat_update("forwarded")
            self.update_doc_stats(out)
            yield out
