"""dataset_builders.phash gives imagehash.phash's values (real images and many synthetic variants)."""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from dataset_builders.images import ImageError
from dataset_builders.phash import (
    from_hex,
    hamming,
    lanczos_weights,
    phash,
    phash_hex,
    to_hex,
)
from dataset_builders.tiny.synthetic_images import make_pil_image


def reference(data: bytes) -> str:
    return str(imagehash.phash(Image.open(io.BytesIO(data))))


def agreement(images: list[bytes]) -> tuple[float, int, list[int]]:
    """(share identical, max Hamming, distances) of ours vs imagehash on encoded images."""
    distances = [hamming(phash(b), from_hex(reference(b))) for b in images]
    return sum(d == 0 for d in distances) / len(distances), max(distances), distances


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def real_photo_files(realdata: Path) -> list[Path]:
    files = sorted((realdata / "images").glob("*.png")) + sorted((realdata / "images").glob("*.jpg"))
    files += sorted((realdata / "vqa" / "textvqa" / "images").rglob("*.jpg"))
    return files


def warc_images(realdata: Path) -> list[bytes]:
    from warcio.archiveiterator import ArchiveIterator

    out = []
    with open(realdata / "warc" / "ukwa_enwiki-main-page-2012.warc.gz", "rb") as f:
        for rec in ArchiveIterator(f):
            headers = rec.http_headers if rec.rec_type == "response" else None
            if headers is not None and (headers.get_header("Content-Type") or "").startswith("image/"):
                out.append(rec.content_stream().read())
    return out


def variants(photos: list[Image.Image], n: int, seed: int) -> list[bytes]:
    """Crops / rescales / mode changes / re-encodes of ``photos`` in JPEG, PNG, WebP and GIF."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        img = photos[i % len(photos)]
        w, h = img.size
        cw, ch = rng.randint(min(w, 40), w), rng.randint(min(h, 40), h)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = img.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.6:
            tw = rng.randint(20, 1400)
            crop = crop.resize((tw, max(8, round(tw * ch / cw * rng.uniform(0.6, 1.6)))), Image.Resampling.BILINEAR)
        kind = i % 8
        if kind == 0:
            out.append(encode(crop.convert("RGBA"), "PNG"))
        elif kind == 1:
            out.append(encode(crop.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"))
        elif kind == 2:
            out.append(encode(crop, "GIF"))
        elif kind == 3:
            out.append(encode(crop, "WEBP", quality=rng.choice([50, 80, 95])))
        elif kind == 4:
            out.append(encode(crop.convert("CMYK"), "JPEG", quality=90))
        elif kind == 5:
            out.append(encode(crop.convert("L"), "JPEG", quality=rng.choice([60, 85])))
        else:
            out.append(encode(crop, "JPEG", quality=rng.choice([50, 65, 75, 85, 95]), subsampling=rng.choice([0, 2])))
    return out


# --- real images ---------------------------------------------------------------------------------


def test_real_photos_match_imagehash(realdata):
    files = real_photo_files(realdata)
    assert len(files) >= 10
    share, worst, _ = agreement([f.read_bytes() for f in files])
    assert share >= 0.99 and worst <= 2, (share, worst)


def test_real_warc_images_match_imagehash(realdata):
    images = warc_images(realdata)
    assert len(images) == 54  # 43 png, 6 gif, 5 jpeg, several 1-px wide, P / LA / RGBA modes
    share, worst, distances = agreement(images)
    assert share == 1.0, distances  # small or non-JPEG: always the exact path


def test_jpeg_reencodes_and_crops_of_real_photos(realdata):
    photos = [Image.open(f).convert("RGB") for f in real_photo_files(realdata)]
    images = variants(photos, 240, seed=1)
    share, worst, _ = agreement(images)
    assert share >= 0.99 and worst <= 2, (share, worst)


def test_non_jpeg_variants_are_exact(realdata):
    photos = [Image.open(f).convert("RGB") for f in real_photo_files(realdata)]
    images = [b for i, b in enumerate(variants(photos, 64, seed=2)) if i % 8 in (0, 1, 2, 3, 4)]
    assert agreement(images)[0] == 1.0


# --- synthetic images (run without realdata too) ----------------------------------------------------


def test_synthetic_images_all_modes_and_formats():
    photos = [make_pil_image(f"phash-{i}", 640, 480) for i in range(6)]
    images = variants(photos, 96, seed=3)
    images += [encode(make_pil_image(f"jpeg-{i}", 640, 480), "JPEG", quality=q) for i, q in
               enumerate([40, 60, 75, 85, 90, 95] * 5)]
    share, worst, _ = agreement(images)
    assert share >= 0.99 and worst <= 2, (share, worst)


@pytest.mark.parametrize("size", [(1, 1), (1, 50), (31, 33), (32, 32), (64, 64), (65, 300), (2000, 63)])
def test_odd_sizes_and_flat_images(size):
    rng = np.random.default_rng(sum(size))
    noisy = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    for img in (noisy, Image.new("RGB", size, (200, 30, 30)), Image.new("L", size, 0)):
        for fmt in ("JPEG", "PNG"):
            data = encode(img, fmt)
            assert phash_hex(data) == reference(data)


def test_exact_mode_matches_even_where_the_estimate_would_not():
    # min_gap=inf never takes the half-size shortcut; min_gap=0 always does (and is allowed to differ).
    images = [encode(make_pil_image(f"exact-{i}", 640, 480), "JPEG", quality=85) for i in range(40)]
    refs = [from_hex(reference(b)) for b in images]
    assert [phash(b, min_gap=math.inf) for b in images] == refs
    rough = [hamming(phash(b, min_gap=0.0), r) for b, r in zip(images, refs, strict=True)]
    assert max(rough) <= 6


def test_pil_image_input_equals_bytes_input():
    img = make_pil_image("pil-input", 300, 200)
    data = encode(img, "PNG")
    assert phash(img) == phash(data) == from_hex(str(imagehash.phash(img)))


def test_bit_order_and_hex_format():
    img = make_pil_image("bits", 320, 240)
    data = encode(img, "PNG")
    bits = imagehash.phash(img).hash.flatten()  # row-major 8x8, first element = most significant bit
    expected = sum(int(b) << (63 - i) for i, b in enumerate(bits))
    assert phash(data) == expected
    assert phash_hex(data) == str(imagehash.phash(img)) == to_hex(expected)
    assert len(phash_hex(data)) == 16 and from_hex(phash_hex(data)) == expected


def test_hamming():
    assert hamming(0, 0) == 0
    assert hamming(0, (1 << 64) - 1) == 64
    assert hamming(0b1011, 0b0001) == 2


def test_from_hex_rejects_wrong_length():
    with pytest.raises(ValueError, match="16 hex digits"):
        from_hex("abc")


def test_lanczos_weights_reproduce_pil_resize():
    # The half-size estimate is built on these weights: in PIL's fixed point they give PIL's result.
    rng = np.random.default_rng(0)
    for width in (33, 100, 451, 640, 1023):
        row = rng.integers(0, 256, (5, width), dtype=np.uint8)
        pil = np.asarray(Image.fromarray(row).resize((32, 5), Image.Resampling.LANCZOS)).astype(np.int64)
        k = lanczos_weights(width) * (1 << 22)
        fixed = np.where(k < 0, np.trunc(k - 0.5), np.trunc(k + 0.5))
        ours = np.clip(np.floor((row.astype(np.float64) @ fixed.T + (1 << 21)) / (1 << 22)), 0, 255)
        assert np.array_equal(ours, pil), width


def test_bad_input_raises_image_error_with_reason():
    with pytest.raises(ImageError) as e:
        phash(b"not an image at all")
    assert e.value.reason == "not_an_image"
    data = encode(make_pil_image("trunc", 640, 480), "JPEG")
    with pytest.raises(ImageError) as e:
        phash(data[: len(data) // 3])
    assert e.value.reason == "undecodable"
    with pytest.raises(ImageError) as e:
        phash(12345)  # type: ignore[arg-type]
    assert e.value.reason == "not_an_image"
