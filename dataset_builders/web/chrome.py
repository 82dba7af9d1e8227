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
are read from the HTML with one regex, the chrome ones become one CSS selector, and lexbor finds the
elements; each found element gets ``data-jv-chrome="<kind>"`` so that an image can ask
``closest("[data-jv-chrome]")`` and the text extraction can remove whole chrome subtrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resiliparse.parse.html import DOMNode, HTMLTree

ATTR = "data-jv-chrome"
_KEEP = "data-jv-keep"

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

    def name_kind(self, name: str) -> str | None:
        """The chrome kind of one class name or id (its first chrome token), or None."""
        tokens = name_tokens(name)
        for i, t in enumerate(tokens):
            kind = self._lookup.get(t)
            if kind and (t not in TAIL_ONLY or i == len(tokens) - 1):
                return kind
        return None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def chrome_selector(html: str, rules: ChromeRules) -> tuple[str, dict[tuple[str, str], str]]:
    """One CSS selector for every chrome candidate of ``html`` and the kind of each class/id name."""
    kinds: dict[tuple[str, str], str] = {}
    seen: set[tuple[str, str]] = set()
    for m in _NAME_RE.finditer(html):
        attr = m.group(1).lower()
        value = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        names = value.split() if attr == "class" else [value.strip()]
        for name in names:
            key = (attr, name)
            if not name or key in seen:
                continue
            seen.add(key)
            kind = rules.name_kind(name)
            if kind:
                kinds[key] = kind
    parts = [*CHROME_TAGS, "header", *(f"[role={r}]" for r in CHROME_ROLES)]
    if rules.hidden:
        parts += list(HIDDEN_SELECTORS)
    parts += [f"[class~={_quote(n)}]" if a == "class" else f"[id={_quote(n)}]" for a, n in kinds]
    return ", ".join(f"{p}:not([{_KEEP}]):not([{ATTR}]):not([{ATTR}] *)" for p in parts), kinds


def _is_hidden(el: DOMNode) -> bool:
    if el.hasattr("hidden") or (el.getattr("aria-hidden") or "").strip().lower() == "true":
        return True
    style = (el.getattr("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def _element_kind(el: DOMNode, kinds: dict[tuple[str, str], str], rules: ChromeRules) -> str | None:
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
    for name in (el.getattr("class") or "").split():
        if ("class", name) in kinds:
            return kinds[("class", name)]
    el_id = (el.getattr("id") or "").strip()
    return kinds.get(("id", el_id)) if el_id else None


def mark_chrome(tree: HTMLTree, html: str, rules: ChromeRules) -> list[tuple[DOMNode, str]]:
    """Mark every outermost chrome element with ``data-jv-chrome=<kind>``; return them in page order.

    Chrome inside chrome is not visited (the outer element is removed whole).
    """
    body = tree.body
    if body is None or not rules.enabled:
        return []
    selector, kinds = chrome_selector(html, rules)
    found: list[tuple[DOMNode, str]] = []
    # every query returns the first unmarked candidate in document order (C-level search) outside the
    # elements already marked: one query per outermost candidate
    for _ in range(10_000):  # a deadline for the loop: no page has that many chrome elements
        el = body.query_selector(selector)
        if el is None:
            break
        kind = _element_kind(el, kinds, rules)
        protected = (
            el.tag in ("article", "main", "body")
            or el.getattr("itemprop") == "articleBody"
            or (kind == "header" and el.parent is not None and el.parent.closest("article, main") is not None)
            or el.query_selector(_PROTECTED) is not None
        )
        if kind is None or protected:
            el.setattr(_KEEP, "1")
            continue
        el.setattr(ATTR, kind)
        found.append((el, kind))
    return found


def chrome_kind_of(node: DOMNode) -> str | None:
    """The kind of the chrome element ``node`` sits in (after :func:`mark_chrome`), or None."""
    el = node.closest(f"[{ATTR}]")
    return el.getattr(ATTR) if el is not None else None


def remove_chrome(found: list[tuple[DOMNode, str]]) -> None:
    """Remove the marked elements (outermost only, so no removed node is touched twice)."""
    for el, _ in found:
        el.decompose()
