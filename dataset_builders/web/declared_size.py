"""The size an ``<img>`` declares in its HTML: ``width`` / ``height`` attributes or inline ``style``.

Browsers render an image at its declared size, so this is the size a reader sees (OBELICS decides on
it before downloading). Only pixel lengths count: ``width="300"``, ``width="300px"``,
``style="width: 300px"``; percentages, ``auto`` and other units say nothing about pixels and give
``None``. A ``style`` length wins over the attribute, as CSS does over presentational attributes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_ATTR_PX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:px)?\s*$", re.IGNORECASE)
_STYLE_PX = re.compile(r"(?:^|;)\s*(width|height)\s*:\s*(\d+(?:\.\d+)?)\s*px\s*(?:!important\s*)?(?=;|$)", re.IGNORECASE)


def _px(value: str | None) -> int | None:
    m = _ATTR_PX.match(value or "")
    return int(float(m.group(1))) if m else None


def declared_size(attrs: Mapping[str, str | None]) -> tuple[int | None, int | None]:
    """``(width, height)`` in pixels as the tag declares them; ``None`` for a side it does not declare."""
    width, height = _px(attrs.get("width")), _px(attrs.get("height"))
    for prop, value in _STYLE_PX.findall(attrs.get("style") or ""):
        if prop.lower() == "width":
            width = int(float(value))
        else:
            height = int(float(value))
    return width, height
