"""Images as small embedded JPEGs: ``data:image/jpeg;base64,…`` with their displayed size."""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass

from PIL import Image

logger = logging.getLogger(__name__)

MAX_SIDE = 360


@dataclass(frozen=True)
class Thumbnail:
    src: str  # a data: URI, or "" when the image does not decode
    width: int
    height: int
    original: str  # "W×H" of the stored image


def thumbnail(data: bytes, max_side: int = MAX_SIDE, quality: int = 82) -> Thumbnail:
    """Downscale ``data`` to ``max_side`` px (longest side) and embed it; an undecodable image gives
    an empty ``src`` (the page shows a placeholder, never a broken image)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            original = f"{im.width}×{im.height}"
            rgb = im.convert("RGB")
    except Exception as e:  # noqa: BLE001 - any decode failure is shown, not raised
        logger.warning("preview: image does not decode (%s)", e)
        return Thumbnail("", 0, 0, "?")
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=quality, optimize=True)
    return Thumbnail("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
                     rgb.width, rgb.height, original)
