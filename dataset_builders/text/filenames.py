"""Is this alt text a file name, an identifier or a URL rather than a description?

CMSs and cameras fill ``alt`` with the image's file name (``IMG_1234.jpg``, ``DSC01234``,
``スクリーンショット 2023-01-01 12.00.00``), hashes, UUIDs or URLs. The rules below each match the
*whole* (whitespace-normalised) text, so a caption that merely mentions a file (``test.pyを動かす``)
or a model number (``RTX4090``) is kept. Each rule is named; :func:`filename_rule` says which matched.

Rules:

- ``extension``: ends in ``.<image/document/video extension>`` right after a non-space character
  (``image.png``, ``猫の写真.JPG``, ``スクリーンショット 2023-01-01 12.00.00.png``);
- ``url``: a bare URL or domain (``https://…``, ``www.…``, ``example.co.jp/path``) with no spaces;
- ``path``: an ASCII path that starts at a root or drive (``/img/logo``, ``C:\\photos\\a``) or has three
  or more segments (``img/common/logo``); ``ON/OFF`` is not a path;
- ``camera``: a default camera/phone/screenshot name — a prefix such as IMG, DSC, DSCN, DSCF, P, PXL,
  GOPR, DJI, Screenshot, スクリーンショット, followed only by digits and separators (≥ 3 digits for
  camera prefixes, ≥ 1 for screenshot prefixes); ``画像``/``写真``/``image``/``photo`` followed by
  ≥ 4 digits (``写真1`` stays: it is a figure label, handled by the corpus-wide frequency rule);
- ``untitled``: editors' default names (``名称未設定-1``, ``無題``, ``untitled-3``);
- ``hash``: hex strings of ≥ 16 characters, UUIDs, and single ASCII tokens of ≥ 12 characters that
  mix letters and ≥ 4 digits (random ids such as ``a8f3k2l9x0q1``);
- ``number_id``: a single ASCII token of ≥ 6 characters with ≥ 5 digits (``1904212``,
  ``190419gak01``, ``P1010001``).
"""

from __future__ import annotations

import re

EXTENSIONS = (
    "jpe?g|jpe|jfif|pjpeg|png|apng|gif|webp|bmp|svg|svgz|tiff?|heic|heif|avif|ico|jxl|"
    "psd|ai|eps|raw|cr2|cr3|nef|arw|dng|orf|rw2|pdf|mp4|mov|webm|m4v|avi"
)
_SEP = r"[\s_\-.:,()（）\[\]#]"

_RULES: dict[str, re.Pattern[str]] = {
    "extension": re.compile(rf"^.*\S\.(?:{EXTENSIONS})(?:\?\S*)?$", re.IGNORECASE),
    "url": re.compile(
        r"^(?:(?:https?|ftp)://\S+|www\.\S+|(?:[a-z0-9\-]+\.)+(?:com|net|org|info|biz|jp|io|co|me|tv|cn|kr|uk|de|fr)"
        r"(?:/\S*)?)$",
        re.IGNORECASE,
    ),
    "path": re.compile(
        r"^(?:(?:[A-Za-z]:)?[\\/](?:[A-Za-z0-9_.\-~%]+[\\/])*[A-Za-z0-9_.\-~%]+[\\/]?"
        r"|(?:[A-Za-z0-9_.\-~%]+[\\/]){2,}[A-Za-z0-9_.\-~%]+[\\/]?)$"
    ),
    "camera": re.compile(
        rf"^(?:"
        rf"(?:IMG|IMAG|DSC[NF]?|DCIM|P|PICT|PXL|MVIMG|CIMG|SAM|GOPR|GH|GX|DJI|WP|VID|MOV|PANO|HND|DSCPDC)"
        rf"{_SEP}*\d{{3,}}(?:{_SEP}*(?:\d+|BURST\w*|COVER|HDR|MP|e))*"
        rf"|(?:Screen\s?Shot|Screenshot|スクリーンショット|スクショ|キャプチャ|画面キャプチャ)"
        rf"(?:{_SEP}|at|午前|午後|年|月|日|時|分|秒)*\d[\d{_SEP[1:-1]}年月日時分秒]*(?:at|午前|午後)?[\d{_SEP[1:-1]}]*"
        rf"|(?:画像|写真|image|img|photo|pic|picture){_SEP}*\d{{4,}}[\d{_SEP[1:-1]}]*"
        rf")$",
        re.IGNORECASE,
    ),
    "untitled": re.compile(rf"^(?:名称未設定|無題|untitled|no\s?title){_SEP}*\d*$", re.IGNORECASE),
    "hash": re.compile(
        r"^(?:[0-9a-f]{16,}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
        r"|(?=(?:[^0-9]*[0-9]){4})(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9_\-]{12,})$",
        re.IGNORECASE,
    ),
    "number_id": re.compile(r"^(?=(?:[^0-9]*[0-9]){5})[A-Za-z0-9_\-.]{6,}$"),
}


def filename_rule(text: str) -> str | None:
    """Name of the first file-name rule that matches the whole (normalised) ``text``, else None."""
    for name, pattern in _RULES.items():
        if pattern.match(text):
            return name
    return None


def is_filename_like(text: str) -> bool:
    """True when ``text`` is a file name, camera default name, hash, UUID, URL or path."""
    return filename_rule(text) is not None
