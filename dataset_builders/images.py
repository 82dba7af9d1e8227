"""Decoding, validating and encoding images: the one place image bytes are trusted or refused.

Every image that enters a shard is decoded once here (a truncated or fake file is refused with a
reason, never written) and stored as JPEG so that the ``jpg`` columns always hold what they say.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

#: Pixel cap against decompression bombs (about 8K x 8K). PIL's own guard only warns below 2x its limit.
MAX_PIXELS = 64_000_000
JPEG_QUALITY = 95

_MAGIC = {
    b"\xff\xd8\xff": "jpeg",
    b"\x89PNG\r\n\x1a\n": "png",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}


class ImageError(ValueError):
    """An image was refused; ``reason`` is a short machine-readable cause used in drop counts."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def sniff_format(data: bytes) -> str | None:
    """Recognise an image by its magic bytes (not by a Content-Type header or file name)."""
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode and fully load ``data``; raise :class:`ImageError` with a reason if it is not a usable image.

    ``draft_size`` (width, height): a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that
    still covers it (PIL ``draft``) — several times faster when only a small version is needed.
    """
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError("not_an_image", "bytes are not a JPEG, PNG, GIF or WebP image (magic bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > max_pixels:
                raise ImageError(
                    "too_many_pixels", f"{img.width}x{img.height} exceeds the {max_pixels:,}-pixel cap"
                )
            if draft_size is not None and fmt == "jpeg" and img.mode in ("RGB", "L", "YCbCr"):
                img.draft("RGB", draft_size)
            img.load()
    except ImageError:
        raise
    except Image.DecompressionBombError as e:  # Pillow's own check fires inside open() for huge images
        raise ImageError("too_many_pixels", f"{fmt} image exceeds the pixel cap: {e}") from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageError("undecodable", f"{fmt} image cannot be decoded: {e}") from e
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB view of ``img``; transparency is composited onto white rather than turned black."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def encode_jpeg(img: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    to_rgb(img).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def as_jpeg_bytes(image: bytes | Image.Image, max_pixels: int = MAX_PIXELS) -> bytes:
    """Validated JPEG bytes for ``image``: JPEG input is kept byte for byte, anything else re-encoded."""
    if isinstance(image, Image.Image):
        return encode_jpeg(image)
    if not isinstance(image, bytes | bytearray | memoryview):
        raise ImageError("not_an_image", f"expected bytes or a PIL image, got {type(image).__name__}")
    data = bytes(image)
    img = decode_image(data, max_pixels=max_pixels)
    if sniff_format(data) == "jpeg" and img.mode in ("RGB", "L"):
        return data
    return encode_jpeg(img)
