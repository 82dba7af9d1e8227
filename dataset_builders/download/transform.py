"""From downloaded bytes to the stored image: recognise, decode under the pixel cap, downscale, JPEG.

The format comes from magic bytes (a server's Content-Type is not trusted); decoding and encoding go
through :mod:`dataset_builders.images`, so the pixel cap and the JPEG policy are the toolkit's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from dataset_builders.images import decode_image, encode_jpeg, sniff_format, to_rgb


@dataclass
class PreparedImage:
    data: bytes
    width: int
    height: int
    original_width: int
    original_height: int
    format: str


def prepare_image(data: bytes, max_side: int | None, max_pixels: int, quality: int) -> PreparedImage:
    """Validate ``data`` and return the JPEG to store; raises ``ImageError`` with a status as ``reason``."""
    img = decode_image(data, max_pixels=max_pixels)  # refuses non-images, bombs and broken files by reason
    fmt = sniff_format(data)
    ow, oh = img.size
    if max_side and max(ow, oh) > max_side:
        scale = max_side / max(ow, oh)
        size = (max(1, round(ow * scale)), max(1, round(oh * scale)))
        img = to_rgb(img).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        out = encode_jpeg(img, quality)
    elif fmt == "jpeg" and img.mode in ("RGB", "L"):
        out = data  # same policy as images.as_jpeg_bytes: a valid RGB/grey JPEG is kept byte for byte
    else:
        out = encode_jpeg(img, quality)
    return PreparedImage(out, img.width, img.height, ow, oh, fmt)
