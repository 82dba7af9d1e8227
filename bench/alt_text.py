"""Alt-text rule chain throughput (texts/s on one core) on the real alts of realdata/html/ja.

Ours: the whole chain (whitespace normalisation, Japanese regex, meaningful length, file-name rules,
HojiChar adult keywords with ignore_confused). Baseline, same run: HojiChar's
``DiscardAdultContentJa`` alone on the raw texts (the one rule the paper takes from a library), so
the ratio says what the chain costs on top of the keyword search. Real alts are repeated to 10K texts.

    python -m bench.alt_text
"""

from __future__ import annotations

import os
from html.parser import HTMLParser
from pathlib import Path

from hojichar import Document as HojiDocument
from hojichar.filters.document_filters import DiscardAdultContentJa

from bench.common import rates, report, rounds
from dataset_builders.text.alt_text import alt_text_drop_reason, default_adult_checker

REALDATA = Path(
    os.environ.get("JA_VILA_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata")
)
N_TEXTS = 10_000


def real_alts() -> list[str]:
    alts: list[str] = []

    class _P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            alt = dict(attrs).get("alt")
            if tag == "img" and alt:
                alts.append(alt)

    for f in sorted((REALDATA / "html" / "ja").glob("*.html")):
        _P(convert_charrefs=True).feed(f.read_bytes().decode("utf-8", "replace"))
    if not alts:
        raise FileNotFoundError(f"no alt texts under {REALDATA}/html/ja (set JA_VILA_REALDATA)")
    return alts


def main() -> dict:
    alts = real_alts()
    texts = (alts * (N_TEXTS // len(alts) + 1))[:N_TEXTS]
    checker = default_adult_checker()
    hoji = DiscardAdultContentJa()

    def ours() -> None:
        for t in texts:
            alt_text_drop_reason(t, adult_checker=checker)

    def baseline() -> None:
        for t in texts:
            hoji.apply(HojiDocument(t))

    times = rounds({"ours": ours, "baseline": baseline})
    kept = sum(alt_text_drop_reason(t, adult_checker=checker) is None for t in alts)
    return report(
        "alt_text_rules",
        rates(len(texts), times["ours"]),
        rates(len(texts), times["baseline"]),
        "texts/s",
        "hojichar DiscardAdultContentJa alone",
        real_alts=len(alts),
        kept=kept,
    )


if __name__ == "__main__":
    main()
