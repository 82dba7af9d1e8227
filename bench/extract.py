"""Web extraction throughput: pages/s on one core, ours vs trafilatura in the same process.

    .venv/bin/python -m bench.extract [--realdata ../shared/realdata] [--rounds 5]

Ours: charset decoding + resiliparse main text + page-order images with MMC4 URL rules and text
offsets (``dataset_builders.web.extract_page``). Baseline: what a typical pipeline does —
``trafilatura.extract`` (FineWeb's/datatrove's default extractor) for the text plus a regex pass over
``<img>`` tags for URL/alt. Two inputs: the 31 real Japanese HTML pages, and the ClueWeb09-ja WARC
read end to end (WARC parsing + EUC-JP decoding + extraction). A third line compares the two WARC
parsers alone (warcio, which we use, vs fastwarc) in records/s.
"""

from __future__ import annotations

import argparse
import html as htmllib
import re
from pathlib import Path

from bench.common import ROUNDS, rates, report, rounds

_IMG = re.compile(r"<img\b[^>]*>", re.I)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)""", re.I)
_ALT = re.compile(r"""\balt\s*=\s*["']([^"']*)""", re.I)


def _baseline_extract(text: str) -> tuple[str, list[tuple[str, str]]]:
    import trafilatura

    main = trafilatura.extract(text) or ""
    imgs = []
    for tag in _IMG.findall(text):
        s, a = _SRC.search(tag), _ALT.search(tag)
        if s:
            imgs.append((htmllib.unescape(s.group(1)), htmllib.unescape(a.group(1)) if a else ""))
    return main, imgs


def _pages(realdata: Path) -> list[tuple[bytes, str]]:
    import json

    meta = {p["file"]: p["url"] for p in json.loads((realdata / "html" / "postlight_pages_meta.json").read_text())["pages"]}
    out = [((realdata / f).read_bytes(), url) for f, url in meta.items() if f.startswith("html/ja/")]
    out += [(p.read_bytes(), "https://example.jp/") for p in sorted((realdata / "html" / "ja_readability").glob("*_source.html"))]
    return out


def bench_pages(realdata: Path, n_rounds: int = ROUNDS, name: str = "extract_real_ja_pages", **extra) -> dict:
    """Our extraction of the real ja pages vs trafilatura, interleaved rounds (``extra`` goes to the report)."""
    from dataset_builders.web import decode_html, extract_page

    pages = _pages(realdata)

    def ours():
        for body, url in pages:
            extract_page(decode_html(body).text, url)

    def baseline():
        for body, _ in pages:
            _baseline_extract(body.decode("utf-8", "replace"))

    t = rounds({"ours": ours, "baseline": baseline}, n_rounds)
    return report(name, rates(len(pages), t["ours"]), rates(len(pages), t["baseline"]), "pages/s/core",
                  "trafilatura.extract + regex <img>", pages=len(pages), **extra)


def bench_warc(realdata: Path, n_rounds: int = ROUNDS) -> dict:
    from warcio.archiveiterator import ArchiveIterator

    from dataset_builders.web import HtmlExtractor, WarcHtmlReader
    from dataset_builders.web.charset import charset_from_content_type, decode_html

    folder, name = realdata / "warc", "resiliparse_clueweb09-ja_quirk.warc.gz"
    n = {"pages": 0}

    def ours():
        n["pages"] = sum(1 for _ in HtmlExtractor()(WarcHtmlReader(folder, glob_pattern=name)()))

    def baseline():
        with open(folder / name, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type == "response":
                    body = rec.content_stream().read()
                    ct = rec.http_headers.get_header("Content-Type") if rec.http_headers else None
                    _baseline_extract(decode_html(body, charset_from_content_type(ct)).text)

    t = rounds({"ours": ours, "baseline": baseline}, n_rounds)
    return report("extract_clueweb_warc", rates(n["pages"], t["ours"]), rates(n["pages"], t["baseline"]), "pages/s/core",
                  "warcio + trafilatura.extract + regex <img>", pages=n["pages"])


def bench_warc_parsers(realdata: Path, n_rounds: int = ROUNDS) -> dict:
    from fastwarc.warc import ArchiveIterator as FastIterator
    from warcio.archiveiterator import ArchiveIterator

    paths = sorted((realdata / "warc").glob("*.warc*"))
    n = {"records": 0}

    def warcio_read():
        k = 0
        for p in paths:
            with open(p, "rb") as f:
                for rec in ArchiveIterator(f):
                    rec.content_stream().read()
                    k += 1
        n["records"] = k

    def fastwarc_read():
        for p in paths:
            with open(p, "rb") as f:
                for rec in FastIterator(f, parse_http=True, strict_mode=False):
                    rec.reader.read()

    t = rounds({"warcio": warcio_read, "fastwarc": fastwarc_read}, n_rounds)
    return report("warc_parse_only", rates(n["records"], t["warcio"]), rates(n["records"], t["fastwarc"]), "records/s/core",
                  "fastwarc (not used: mis-parses bare-LF headers, no de-chunking/gzip)", records=n["records"])


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds per comparison")
    args = ap.parse_args(argv if argv is not None else [])  # bench.run calls main() with no arguments
    if not args.realdata.is_dir():
        raise SystemExit(f"real data not found at {args.realdata}; pass --realdata")
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    return [bench_pages(args.realdata, args.rounds), bench_warc(args.realdata, args.rounds),
            bench_warc_parsers(args.realdata, args.rounds)]


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
