"""Deterministic synthetic images for tests, the demo and benchmarks (no network, no data files).

``make_image(name)`` always returns the same bytes for the same arguments, and different names give
visibly different pictures (a random two-colour gradient plus a few filled shapes), so perceptual
hashes of different names are far apart while repeated calls are byte-identical.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

#: Formats ``make_image`` writes, with the Content-Type a server should send for each.
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
#: File extensions mapped to formats (``jpg`` and ``jpeg`` both mean JPEG).
EXTENSIONS = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png", "webp": "webp"}


def _rng(name: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed)


def make_pil_image(name: str, width: int = 640, height: int = 480) -> Image.Image:
    """The RGB picture behind :func:`make_image` (seeded from ``name``)."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    rng = _rng(name)
    c0, c1 = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    # The gradient is linear, so computing it on a small grid and upscaling is exact enough and fast.
    gw, gh = min(width, 64), min(height, 64)
    ys, xs = np.mgrid[0:gh, 0:gw].astype(np.float32)
    t = xs / max(gw - 1, 1) * np.cos(angle) + ys / max(gh - 1, 1) * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    pixels = c0 + (c1 - c0) * t[..., None]
    img = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")
    if (gw, gh) != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        x0, x1 = sorted(rng.integers(0, width, size=2).tolist())
        y0, y1 = sorted(rng.integers(0, height, size=2).tolist())
        x1, y1 = max(x1, x0 + max(width // 8, 1)), max(y1, y0 + max(height // 8, 1))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
    return img


@lru_cache(maxsize=8192)
def make_image(name: str, width: int = 640, height: int = 480, fmt: str = "jpeg") -> bytes:
    """Encoded bytes of the synthetic image ``name`` (``fmt``: jpeg, png or webp); cached, deterministic."""
    fmt = EXTENSIONS.get(fmt.lower(), fmt.lower())
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"unsupported format {fmt!r}; use one of {sorted(CONTENT_TYPES)}")
    buf = io.BytesIO()
    img = make_pil_image(name, width, height)
    if fmt == "jpeg":
        img.save(buf, format="JPEG", quality=90)
    elif fmt == "png":
        img.save(buf, format="PNG", compress_level=1)
    else:
        img.save(buf, format="WEBP", quality=80, method=0)
    return buf.getvalue()
