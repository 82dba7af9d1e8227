"""Perceptual hash (pHash) that gives the same 64-bit value as ``imagehash.phash``, faster.

Why not call imagehash directly: on web-scale image sets most of its time goes into decoding the full
JPEG and a full-resolution LANCZOS resize to 32x32. The seed's dedup thresholds (Hamming <= 5) are
calibrated on imagehash values, so a faster hash must give the *same* values, not merely similar
ones.

What imagehash computes (imagehash 4.3, ``hash_size=8``, ``highfreq_factor=4``)::

    pixels = asarray(image.convert("L").resize((32, 32), LANCZOS))   # uint8
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    bits = dct > median(dct)

**Bit order.** ``bits`` is flattened row-major (``dct[0, 0]``, ``dct[0, 1]``, ... ``dct[7, 7]``) and
the first bit is the most significant: ``value = sum(bit[i] << (63 - i))``. ``f"{value:016x}"`` is
then exactly ``str(imagehash.phash(img))``.

**How it is faster, and why only part of the time.** That hash is chaotic under tiny pixel changes:
measured on 614 photos, doing the same LANCZOS in float instead of PIL's 8-bit two-pass fixed point
changes 6% of the hashes, and hashing the JPEG's Y channel instead of ``convert("L")`` changes 1%.
So no approximation of the 32x32 image reproduces imagehash on 99% of images by itself. What does
work is an estimate that is only trusted when the hash is far from a decision boundary:

1. For a JPEG (RGB or grayscale, shorter side >= 256 px), libjpeg decodes the luma at half size in
   the DCT domain (``draft``: no chroma, a quarter of the pixels). The 32x32 image is estimated as
   ``Av @ Y_half @ Ah.T`` with PIL's exact LANCZOS weights for the full-size image summed over
   each 2x2 block (matrices cached per size), and its 8x8 DCT taken with two small matmuls.
2. The hash bits are ``coef > median``. If the two coefficients next to the median are at least
   :data:`CERTAIN_GAP` apart, the estimation error (measured: sigma about 25 per coefficient,
   mostly PIL's 8-bit intermediate rounding, which no estimate can know) is unlikely to reorder
   them, and the estimate's bits are returned. This is a calibrated threshold, not a proof: on 983
   real photos, re-encodes and synthetic JPEGs 99.9% were identical and the rest 2 bits apart.
3. Otherwise (about 30% of photos) the image is decoded in full and hashed exactly as imagehash
   does. Non-JPEG input (PNG, GIF, WebP, CMYK JPEG, JPEGs under 256 px) always takes this exact path.

The speed-up is bounded by the JPEG entropy decoding that every path pays (libjpeg must read every
coefficient even for a reduced-size decode) and by the share of images that need the exact path;
``bench/phash.py`` measures both.
"""

from __future__ import annotations

import functools
import io
import math
import warnings

import numpy as np
import scipy.fftpack
from PIL import Image, UnidentifiedImageError

from dataset_builders.images import MAX_PIXELS, ImageError, sniff_format

HASH_SIZE = 8
IMG_SIZE = 32  # HASH_SIZE * highfreq_factor (4), as in imagehash
#: Smallest gap (DCT units of the 0..255 32x32 image) between the two coefficients around the median
#: for which the half-size estimate is trusted. Calibrated on real photos and their re-encodes
#: (tests/test_phash.py, bench/phash.py): on 983 images 99.8% identical, max Hamming 2 (100: 100%, slower).
CERTAIN_GAP = 60.0
#: The shorter side a JPEG needs for the half-size shortcut: below it a 2x2 block is too coarse next to
#: the LANCZOS kernel (an 80x100 photo differed by 2 bits), and small images are cheap to hash exactly.
MIN_DRAFT_SIDE = 256

# scipy.fftpack.dct (type II, norm=None): X[k] = 2 * sum_n x[n] cos(pi k (2n + 1) / 2N), first 8 rows.
_DCT8 = np.array(
    [[2.0 * math.cos(math.pi * k * (2 * n + 1) / (2 * IMG_SIZE)) for n in range(IMG_SIZE)] for k in range(HASH_SIZE)]
)


def _lanczos(x: float) -> float:
    """PIL's LANCZOS filter (``lanczos_filter`` in libImaging/Resample.c): sinc(x) * sinc(x / 3), |x| < 3."""
    if not -3.0 <= x < 3.0:
        return 0.0

    def sinc(v: float) -> float:
        if v == 0.0:
            return 1.0
        v *= math.pi
        return math.sin(v) / v

    return sinc(x) * sinc(x / 3.0)


@functools.lru_cache(maxsize=2048)
def lanczos_weights(in_size: int, out_size: int = IMG_SIZE) -> np.ndarray:
    """PIL's normalised LANCZOS weights (``precompute_coeffs``) as a dense ``(out_size, in_size)`` matrix."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    weights = np.zeros((out_size, in_size))
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ks = [_lanczos((x + xmin - center + 0.5) / filterscale) for x in range(xmax)]
        total = 0.0
        for k in ks:  # sequential sum, as in C
            total += k
        for x, k in enumerate(ks):
            weights[xx, xmin + x] = k / total if total != 0.0 else k
    weights.setflags(write=False)
    return weights


@functools.lru_cache(maxsize=2048)
def _block_weights(in_size: int, block: int) -> np.ndarray:
    """LANCZOS weights of the full-size axis summed over runs of ``block`` pixels (a reduced decode)."""
    full = lanczos_weights(in_size)
    n_blocks = -(-in_size // block)
    out = np.add.reduceat(full, np.arange(0, in_size, block), axis=1)
    assert out.shape[1] == n_blocks
    out.setflags(write=False)
    return out


def _to_int(bits: np.ndarray) -> int:
    """64 booleans (row-major 8x8) to an int, first bit most significant (imagehash's hex order)."""
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _open(data: bytes) -> Image.Image:
    if sniff_format(data) is None:
        raise ImageError("not_an_image", "bytes are not a JPEG, PNG, GIF or WebP image (magic bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError("undecodable", f"image cannot be opened: {e}") from e
    if img.width * img.height > MAX_PIXELS:
        raise ImageError("too_many_pixels", f"{img.width}x{img.height} exceeds the {MAX_PIXELS:,}-pixel cap")
    return img


def _hash_exact(img: Image.Image) -> int:
    """Exactly imagehash.phash's computation (same PIL calls, same scipy DCT, same median)."""
    pixels = np.asarray(img.convert("L").resize((IMG_SIZE, IMG_SIZE), Image.Resampling.LANCZOS))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:HASH_SIZE, :HASH_SIZE]
    return _to_int((low > np.median(low)).ravel())


def _hash_half_jpeg(img: Image.Image, min_gap: float) -> int | None:
    """The certified half-size estimate for a JPEG (see module docstring); None when not certain."""
    width, height = img.size
    drafted = img.draft("L", (width // 2, height // 2))
    if drafted is None:  # e.g. a JPEG with several tiles: no reduced decode
        return None
    block = round(width / drafted[1][2])
    if block < 2 or img.mode != "L":
        return None
    img.load()
    luma = np.asarray(img, dtype=np.float64)
    est = _block_weights(height, block) @ luma @ _block_weights(width, block).T
    est = np.clip(np.floor(est + 0.5), 0.0, 255.0)
    coefs = (_DCT8 @ est @ _DCT8.T).ravel()
    ordered = np.sort(coefs)
    lo, hi = ordered[HASH_SIZE * HASH_SIZE // 2 - 1], ordered[HASH_SIZE * HASH_SIZE // 2]
    if hi - lo < min_gap:
        return None
    return _to_int(coefs > (lo + hi) / 2.0)


def phash(image: bytes | bytearray | memoryview | Image.Image, *, min_gap: float = CERTAIN_GAP) -> int:
    """64-bit pHash of encoded bytes or a PIL image, equal to ``int(str(imagehash.phash(img)), 16)``.

    ``min_gap`` trades agreement for speed: the default keeps imagehash's values; ``0`` always takes
    the half-size estimate for JPEGs (about 3x faster, ~8% of values differ by 1-4 bits, see
    ``bench/phash.py``); ``math.inf`` always computes exactly.

    Raises :class:`~dataset_builders.images.ImageError` (``reason`` = not_an_image / undecodable /
    too_many_pixels) for bytes that are not a usable image.
    """
    if isinstance(image, Image.Image):
        return _hash_exact(image)
    if not isinstance(image, bytes | bytearray | memoryview):
        raise ImageError("not_an_image", f"expected bytes or a PIL image, got {type(image).__name__}")
    data = bytes(image)
    img = _open(data)
    try:
        if (
            min_gap != math.inf
            and img.format == "JPEG"
            and img.mode in ("RGB", "L")
            and min(img.size) >= MIN_DRAFT_SIDE
        ):
            value = _hash_half_jpeg(img, min_gap)
            if value is not None:
                return value
            img = _open(data)  # draft() changed the decoder; start again for the exact path
        return _hash_exact(img)
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError("undecodable", f"{img.format or 'image'} cannot be decoded: {e}") from e


def phash_hex(image: bytes | bytearray | memoryview | Image.Image, *, min_gap: float = CERTAIN_GAP) -> str:
    """The pHash as 16 hex digits, the same string as ``str(imagehash.phash(img))``."""
    return to_hex(phash(image, min_gap=min_gap))


def to_hex(value: int) -> str:
    return f"{value:016x}"


def from_hex(text: str) -> int:
    """Parse a 16-hex-digit pHash (ours or imagehash's ``str()``) back to an int."""
    if len(text) != 16:
        raise ValueError(f"a 64-bit pHash has 16 hex digits, got {text!r}")
    return int(text, 16)


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two 64-bit hashes."""
    return (a ^ b).bit_count()
