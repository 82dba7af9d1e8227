"""Size / aspect rules and the steps that drop failing media and hash the rest."""

from __future__ import annotations

import io

import imagehash
import pytest
from datatrove.data import Document, Media, MediaType
from PIL import Image

from dataset_builders.image_checks import HashImages, ImageSizeFilter, SizeRules, check_size
from dataset_builders.tiny.synthetic_images import make_image


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (150, 150, None),
        (149, 300, "too_small"),
        (300, 149, "too_small"),
        (300, 150, None),  # aspect exactly 2 is kept
        (301, 150, "bad_aspect_ratio"),
        (150, 300, None),  # aspect exactly 0.5 is kept
        (150, 301, "bad_aspect_ratio"),
        (0, 500, "too_small"),
        (4000, 3000, None),
    ],
)
def test_mmc4_rules_at_their_boundaries(width, height, expected):
    assert check_size(width, height) == expected


def test_rules_are_configurable():
    rules = SizeRules(min_side=10, min_aspect=0.9, max_aspect=1.1)
    assert check_size(12, 12, rules) is None
    assert check_size(9, 9, rules) == "too_small"
    assert check_size(100, 80, rules) == "bad_aspect_ratio"
    with pytest.raises(ValueError, match="invalid size rules"):
        SizeRules(min_aspect=2.0, max_aspect=1.0)


def image_media(i: int, width: int, height: int, with_size: bool = True, **kw) -> Media:
    data = make_image(f"checks-{i}", width, height, "jpeg")
    meta = {"width": width, "height": height} if with_size else {}
    return Media(id=f"m{i}", type=MediaType.IMAGE, url=f"http://example.invalid/{i}.jpg", media_bytes=data,
                 metadata=meta, **kw)


def test_size_filter_step_drops_media_and_counts_reasons():
    video = Media(id="v", type=MediaType.VIDEO, url="http://example.invalid/v.mp4")
    doc = Document(text="t", id="d1", media=[
        image_media(0, 640, 480),
        image_media(1, 100, 480),                    # too small
        image_media(2, 640, 200),                    # aspect 3.2
        image_media(3, 400, 300, with_size=False),   # size read from the header
        image_media(4, 120, 120, with_size=False),   # too small, size from the header
        Media(id="m5", type=MediaType.IMAGE, url="http://example.invalid/5.jpg"),  # never downloaded
        Media(id="m6", type=MediaType.IMAGE, url="http://example.invalid/6.jpg", media_bytes=b"\xff\xd8\xffjunk"),
        video,
    ])
    step = ImageSizeFilter()
    out = list(step.run([doc]))
    assert [m.id for m in out[0].media] == ["m0", "m3", "v"]
    assert out[0].media[1].metadata["width"] == 400  # filled in from the header
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["media_dropped_too_small"] == 2
    assert counts["media_dropped_bad_aspect_ratio"] == 1
    assert counts["media_dropped_no_image"] == 1
    assert counts["media_dropped_undecodable"] == 1
    assert counts["media_kept"] == 2


def test_hash_step_sets_imagehash_string_and_drops_undecodable():
    good = image_media(0, 640, 480)
    bad = Media(id="bad", type=MediaType.IMAGE, url="http://example.invalid/b.png", media_bytes=b"\x89PNG\r\n\x1a\nxx")
    done = image_media(1, 640, 480)
    done.metadata["phash"] = "0123456789abcdef"
    doc = Document(text="t", id="d", media=[good, bad, done])
    step = HashImages()
    out = list(step.run([doc]))[0]
    assert [m.id for m in out.media] == ["m0", "m1"]
    assert out.media[0].metadata["phash"] == str(imagehash.phash(Image.open(io.BytesIO(good.media_bytes))))
    assert out.media[1].metadata["phash"] == "0123456789abcdef"  # resumed: left as it was
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["media_dropped_undecodable"] == 1 and counts["media_kept"] == 2
