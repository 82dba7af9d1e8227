"""Decode an HTML payload to text: BOM, valid UTF-8, HTTP charset, ``<meta charset>``, then a detector.

Declared charsets lie on the real web (``html/ja`` has pages that declare Shift_JIS but are UTF-8 or
ASCII with numeric entities), so a declared charset is only used when the bytes decode strictly
under it. Non-ASCII bytes that are valid UTF-8 are taken as UTF-8 before any declaration: a legacy
CJK or Cyrillic text that happens to be valid UTF-8 is vanishingly rare. Labels are mapped to the
WHATWG supersets browsers actually use (Shift_JIS → cp932, GB2312 → GB18030, Latin-1 → cp1252).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from resiliparse.parse.encoding import detect_encoding

#: Python codec names browsers effectively use for common (mislabelled) charset labels.
_SUPERSETS = {
    "shift_jis": "cp932", "sjis": "cp932", "shift-jis": "cp932", "x-sjis": "cp932", "ms_kanji": "cp932",
    "windows-31j": "cp932", "cp932": "cp932",
    "euc-jp": "euc_jp", "euc_jp": "euc_jp", "x-euc-jp": "euc_jp", "eucjp": "euc_jp",
    "iso-2022-jp": "iso2022_jp_ext", "iso2022_jp": "iso2022_jp_ext",
    "gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030", "gb18030": "gb18030",
    "big5": "big5hkscs", "euc-kr": "cp949", "euc_kr": "cp949", "ks_c_5601-1987": "cp949",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252",
    "us-ascii": "cp1252", "ascii": "cp1252", "windows-1252": "cp1252",
}
#: Single-byte Western labels: servers send them as a default, so a CJK meta/detector result beats them.
_WEAK_LABELS = {"cp1252"}
_CJK_CODECS = {"cp932", "euc_jp", "iso2022_jp_ext", "gb18030", "big5hkscs", "cp949"}

_META_RE = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE
)
_CT_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE)

#: How many leading bytes are scanned for a ``<meta charset>`` (the HTML spec says 1024; pages go past it).
META_SCAN_BYTES = 4096


class DecodeError(ValueError):
    """The payload could not be turned into text under any candidate encoding."""


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str  # Python codec name actually used
    source: str  # bom | ascii | utf8 | http | meta | detected | lossy


def normalize_charset(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when the label is unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _SUPERSETS:
        return _SUPERSETS[label]
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The charset parameter of an HTTP ``Content-Type`` value, as a codec name."""
    if not content_type:
        return None
    m = _CT_CHARSET_RE.search(content_type)
    return normalize_charset(m.group(1)) if m else None


def meta_charset(body: bytes) -> str | None:
    """The charset named by ``<meta charset>`` / ``http-equiv`` near the top of the page, as a codec name."""
    m = _META_RE.search(body[:META_SCAN_BYTES])
    return normalize_charset(m.group(1).decode("ascii", "replace")) if m else None


def _strict(body: bytes, codec: str | None) -> str | None:
    if not codec:
        return None
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, http_charset: str | None = None) -> Decoded:
    """Decode ``body`` (an HTML payload); ``http_charset`` is the HTTP header's charset label, if any."""
    if body.startswith(codecs.BOM_UTF8):
        return Decoded(body[3:].decode("utf-8", "replace"), "utf-8", "bom")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoded(body.decode("utf-16", "replace"), "utf-16", "bom")
    if body.isascii():
        return Decoded(body.decode("ascii"), "ascii", "ascii")
    text = _strict(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "utf8")

    http = normalize_charset(http_charset)
    meta = meta_charset(body)
    detected = normalize_charset(detect_encoding(body))
    candidates = [("http", http), ("meta", meta), ("detected", detected)]
    if http in _WEAK_LABELS and (meta in _CJK_CODECS or detected in _CJK_CODECS):
        candidates = [c for c in candidates if c[0] != "http"] + [("http", http)]
    tried = set()
    for source, codec in candidates:
        if not codec or codec in tried:
            continue
        tried.add(codec)
        text = _strict(body, codec)
        if text is not None:
            return Decoded(text, codec, source)
    codec = next((c for _, c in candidates if c), "utf-8")
    try:
        return Decoded(body.decode(codec, "replace"), codec, "lossy")
    except LookupError as e:  # pragma: no cover - normalize_charset only returns known codecs
        raise DecodeError(f"no usable encoding for payload (tried {sorted(tried)})") from e
