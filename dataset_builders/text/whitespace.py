"""Whitespace normalisation for alt texts (paper §3: strip both ends, collapse runs into one space).

Every Unicode whitespace character counts — tabs, newlines, NBSP, the ideographic space U+3000 —
plus the zero-width characters that HTML authors paste in (ZWSP, ZWNJ/ZWJ are left alone because
they are part of emoji sequences; only U+200B and U+FEFF, which never carry meaning, are removed).
"""

from __future__ import annotations

import re

_WS_RUN = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b\ufeff]")


def normalize_whitespace(text: str) -> str:
    """Strip leading/trailing whitespace and collapse every whitespace run to one half-width space."""
    return _WS_RUN.sub(" ", _INVISIBLE.sub("", text)).strip()
