"""Page chrome: the parts of a page that are furniture, not the article — found in the DOM.

OBELICS simplifies the DOM before it takes text and images from it; this is our version for
Japanese pages. An element is chrome when

* its tag says so: ``<nav>``, ``<aside>``, ``<menu>``, ``<footer>``, and ``<header>`` outside an
  ``<article>`` / ``<main>`` (an article's own header holds its title and lead image);
* a reader does not see it (``hidden``, ``aria-hidden="true"``, ``display:none`` / ``visibility:hidden``
  in its ``style``; kind ``hidden``);
* its ARIA ``role`` says so (``navigation``, ``banner``, ``contentinfo``, ``complementary``, ``search``);
* a token of its ``class`` or ``id`` is a chrome word: ``related-posts`` → ``related``,
  ``c-sideRanking`` → ``side`` + ``ranking`` (names are split at ``-``, ``_``, digits and camelCase).
  Words are grouped by kind (``nav``, ``sidebar``, ``share``, ``author``, ``ad``, ``related``,
  ``comment``, ``tags``, ``footer``) and the kind names the drop. Taxonomy words (``tag``,
  ``category``) only count at the end of a name: WordPress puts ``tag-economy`` /
  ``category-news`` on the article itself.

Never chrome: ``<article>``, ``<main>``, ``<body>``, an element with ``itemprop=articleBody``, and an
element that contains one of them (a layout wrapper that happens to be called ``side-main``).

How it runs (resiliparse's DOM is fast in C but slow to walk from Python): the class and id values
are read from the HTML with one regex and a tag whose name is chrome gets ``data-jv-kind="<kind>"``
(:func:`mark_chrome_names`), so one short CSS selector finds every candidate and lexbor does the
walking — ``closest(selector)`` from an image, ``query_selector(selector)`` to remove whole chrome
subtrees before the text is extracted (:class:`PageChrome`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from resiliparse.parse.html import DOMNode, HTMLTree, NodeType

_KEEP = "data-jv-keep"
KIND_ATTR = "data-jv-kind"

#: Tags that are chrome wherever they are.
CHROME_TAGS: dict[str, str] = {"nav": "nav", "aside": "sidebar", "menu": "nav", "footer": "footer"}
#: ARIA landmark roles that are chrome.
CHROME_ROLES: dict[str, str] = {
    "navigation": "nav", "banner": "header", "contentinfo": "footer", "complementary": "sidebar",
    "search": "nav", "menubar": "nav",
}
#: Class / id tokens that mark chrome, by kind (the kind is the drop reason's suffix).
CHROME_WORDS: dict[str, tuple[str, ...]] = {
    "nav": ("nav", "navi", "navbar", "navigation", "gnav", "gnavi", "globalnav", "menu", "menus", "menubar",
            "megamenu", "breadcrumb", "breadcrumbs", "pankuzu", "topicpath", "pagination", "pager", "drawer"),
    "sidebar": ("sidebar", "side", "sidemenu", "sidenav", "sidecol", "subcol", "widget", "widgets", "aside"),
    "share": ("share", "sharing", "sns", "social", "bookmark", "follow"),
    "author": ("author", "authors", "profile", "byline", "writer", "avatar"),
    "ad": ("ad", "ads", "adv", "advert", "advertisement", "sponsor", "sponsored", "promo", "promotion", "banner",
           "bnr", "affiliate", "pr"),
    "related": ("related", "relation", "recommend", "recommended", "recommendation", "ranking", "rank", "popular",
                "pickup", "trend", "trending"),
    "comment": ("comment", "comments"),
    "tags": ("tag", "tags", "tagcloud", "category", "categories"),
    "footer": ("footer",),
}
#: Words that only count as the last token of a name (``tag-economy`` is a label, ``post-tags`` a box).
TAIL_ONLY = frozenset({"tag", "category"})

_NAMED_TAG_RE = re.compile(r"<[a-zA-Z][a-zA-Z0-9-]*\s[^>]*?\b(?:class|id)\s*=[^>]*>")
_NAME_RE = re.compile(r"""\s(class|id)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)
_SPLIT_RE = re.compile(r"[^a-zA-Z]+|(?<=[a-z])(?=[A-Z])")
_PROTECTED = "article, main, body, [itemprop=articleBody]"
HIDDEN_SELECTORS = (
    "[hidden]", "[aria-hidden=true]", '[style*="display:none" i]', '[style*="display: none" i]',
    '[style*="visibility:hidden" i]', '[style*="visibility: hidden" i]',
)


def name_tokens(name: str) -> list[str]:
    """``c-sideRanking_listNode`` → ``["c", "side", "ranking", "list", "node"]``."""
    return [t.lower() for t in _SPLIT_RE.split(name) if t]


@dataclass(frozen=True)
class ChromeRules:
    """Which elements are page chrome (see the module docstring); ``enabled: false`` turns it off."""

    enabled: bool = True
    words: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(CHROME_WORDS))
    outer_header: bool = True  # <header> / role=banner outside <article> and <main> is chrome
    hidden: bool = True  # elements a reader does not see (hidden attribute, display:none, aria-hidden)
    _lookup: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup = {}
        for kind, words in self.words.items():
            for w in words:
                lookup.setdefault(str(w).lower(), kind)
        object.__setattr__(self, "_lookup", lookup)
        # plain attributes, not fields: caches stay out of the settings a build records
        object.__setattr__(self, "_names", {})  # class name → kind, filled as pages are read

    def name_kind(self, name: str) -> str | None:
        """The chrome kind of one class name or id (its first chrome token), or None."""
        names = self._names
        if name in names:
            return names[name]
        tokens = name_tokens(name)
        kind = None
        for i, t in enumerate(tokens):
            k = self._lookup.get(t)
            if k and (t not in TAIL_ONLY or i == len(tokens) - 1):
                kind = k
                break
        if len(names) < 100_000:  # bounded: class names repeat across a site's pages
            names[name] = kind
        return kind


def mark_chrome_names(html: str, rules: ChromeRules) -> str:
    """``html`` with ``data-jv-kind="<kind>"`` added to every start tag whose class or id names chrome.

    One regex pass over the HTML (kinds cached per name): the DOM selector then needs one attribute
    test instead of one alternative per class name, which keeps ``closest`` and ``query_selector``
    fast on pages with hundreds of class names.
    """
    if not rules.enabled:
        return html

    def tag(m: re.Match) -> str:
        text = m.group(0)
        for nm in _NAME_RE.finditer(text):
            attr = nm.group(1).lower()
            value = nm.group(2) if nm.group(2) is not None else nm.group(3) if nm.group(3) is not None else nm.group(4)
            for name in value.split() if attr == "class" else [value.strip()]:
                kind = rules.name_kind(name) if name else None
                if kind:
                    end = -2 if text.endswith("/>") else -1
                    return f'{text[:end]} {KIND_ATTR}="{kind}"{text[end:]}'
        return text

    return _NAMED_TAG_RE.sub(tag, html)


def _is_hidden(el: DOMNode) -> bool:
    if el.hasattr("hidden") or (el.getattr("aria-hidden") or "").strip().lower() == "true":
        return True
    style = (el.getattr("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _element_kind(el: DOMNode, rules: ChromeRules) -> str | None:
    tag = el.tag
    if rules.hidden and _is_hidden(el):
        return "hidden"
    if tag in CHROME_TAGS:
        return CHROME_TAGS[tag]
    role = (el.getattr("role") or "").strip().lower()
    if role in CHROME_ROLES:
        kind = CHROME_ROLES[role]
        if kind == "header" and not rules.outer_header:
            return None
        return kind
    if tag == "header":
        return "header" if rules.outer_header else None
    return el.getattr(KIND_ATTR) or None


class PageChrome:
    """The chrome of one parsed page (its HTML went through :func:`mark_chrome_names`): which element an
    image sits in, and removing it all.

    Usage: ``chrome = PageChrome(tree, rules)``; ``chrome.kind_of(img)`` for each image (before
    anything is removed); then ``chrome.remove()`` before the text is extracted.
    """

    def __init__(self, tree: HTMLTree, rules: ChromeRules):
        self.tree, self.rules = tree, rules
        self.enabled = rules.enabled and tree.body is not None
        parts = [*CHROME_TAGS, "header", *(f"[role={r}]" for r in CHROME_ROLES), f"[{KIND_ATTR}]"]
        if rules.hidden:
            parts += list(HIDDEN_SELECTORS)
        self.selector = ", ".join(parts)
        self._verdicts: dict[DOMNode, str | None] = {}

    def _verdict(self, el: DOMNode) -> str | None:
        """The element's chrome kind, or None when it is not chrome (or protected)."""
        if el in self._verdicts:
            return self._verdicts[el]
        kind = _element_kind(el, self.rules)
        if kind is not None and (
            el.tag in ("article", "main", "body")
            or el.getattr("itemprop") == "articleBody"
            or (kind == "header" and el.parent is not None and el.parent.closest("article, main") is not None)
            or el.query_selector(_PROTECTED) is not None
        ):
            kind = None
        self._verdicts[el] = kind
        return kind

    def kind_of(self, node: DOMNode) -> str | None:
        """The kind of the nearest chrome element ``node`` sits in, or None (C-level ``closest`` walks)."""
        if not self.enabled:
            return None
        el = node.closest(self.selector)
        for _ in range(1000):  # a deadline: no page nests chrome candidates that deep
            if el is None:
                return None
            kind = self._verdict(el)
            if kind is not None:
                return kind
            parent = el.parent
            el = parent.closest(self.selector) if parent is not None and parent.type == NodeType.ELEMENT else None
        return None

    def remove(self) -> Counter:
        """Remove every outermost chrome element; return how many of each kind."""
        removed: Counter = Counter()
        body = self.tree.body
        if not self.enabled or body is None:
            return removed
        query = ", ".join(f"{p}:not([{_KEEP}])" for p in self.selector.split(", "))
        # each query is one C-level search for the first candidate left; a removed element takes its
        # nested candidates with it, a rejected one is marked and skipped: one query per outermost candidate
        for _ in range(10_000):  # a deadline: no page has that many chrome elements
            el = body.query_selector(query)
            if el is None:
                break
            kind = self._verdict(el)
            if kind is None:
                el.setattr(_KEEP, "1")
                continue
            removed[kind] += 1
            self._verdicts.pop(el, None)
            el.decompose()
        return removed
