"""Extraction quality on the labelled pages (new rules vs the rules before issue 15) and extraction
speed on the real pages (ours vs trafilatura).

    .venv/bin/python -m bench.extraction_quality [--realdata ../shared/realdata] [--rounds 5]

Quality: ``ja-vila quality``'s figures with the paper presets, then with :data:`BASELINE_OVERRIDES`
— every rule of issue 15 switched off through the same config keys (resiliparse's main content as
it was, MMC4's png/jpg/jpeg, HojiChar's one-hit matching, the plain fast splitter, no chrome, line,
image-context, caption or Japanese-quality rules). Two small changes have no switch and stay on in
the baseline: the ``data-delay`` lazy attribute and the 「 画像」 suffix normalisation.

Speed: the extraction step itself (charset decoding + DOM chrome + text + images, with every new
rule) on the 31 labelled pages, against ``trafilatura.extract`` + a regex ``<img>`` pass; the issue
asks for ≥ 2×.

Sentence splitting: boundary F1 of the default splitter and of the plain fast one over every gold
text of ``realdata/text_ja``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bench.common import ROUNDS

#: The rules before issue 15, as ``--set`` overrides of both builders (see the module docstring).
BASELINE_OVERRIDES = [
    "web.extract.chrome.enabled=false",
    "web.extract.lines.enabled=false",
    "web.extract.images.enabled=false",
    "web.extract.main_content=true",
    "web.extract.code_blocks=split",
    "web.url_rules.extensions=[png, jpg, jpeg]",
    "web.url_rules.banned_tokens=[]",
    "web.site_repetition.enabled=false",
    "interleaved.content_images={drop_teasers: false, drop_outside_text: false}",
    "interleaved.splitter=fast",
    "interleaved.quality.enabled=false",
    "interleaved.harmful.matching={ascii_whole_words: false, kanji_outside_words: false, weak_needs_strong: false,"
    " min_hits: 1, min_hits_per_1000_chars: 0}",
    "pairs.alt_text.caption={generic: false, navigation: false, teaser: false, page_title: false, copyright_ad: false}",
    "pairs.alt_text.adult_matching={ascii_whole_words: false, kanji_outside_words: false, weak_needs_strong: false,"
    " min_hits: 1, min_hits_per_1000_chars: 0}",
]


def bench_quality(realdata: Path) -> dict:
    from dataset_builders.quality.evaluate import evaluate_labels, format_table, load_quality_configs

    labels = realdata / "labels" / "pages.jsonl"
    new = evaluate_labels(labels, realdata, load_quality_configs())
    old = evaluate_labels(labels, realdata, load_quality_configs(overrides=BASELINE_OVERRIDES))
    print(format_table(new, baseline=old))
    figures = {k: {kk: vv for kk, vv in new[k].items() if not isinstance(vv, dict)} for k in REPORTED}
    base = {k: {kk: vv for kk, vv in old[k].items() if not isinstance(vv, dict)} for k in REPORTED}
    print("  " + json.dumps({"bench": "extraction_quality", "new": figures, "baseline": base}, ensure_ascii=False))
    return {"new": figures, "baseline": base}


REPORTED = ("images", "alt_texts", "main_text", "harmful")


def bench_speed(realdata: Path, n_rounds: int = ROUNDS) -> dict:
    """Extraction speed with every new rule on, vs trafilatura (the issue's bar: >= 2x)."""
    from bench.extract import bench_pages

    return bench_pages(realdata, n_rounds, name="extract_with_quality_rules", target_ratio=2.0)


def bench_sentences(realdata: Path) -> dict:
    from dataset_builders.text.boundary_eval import BoundaryScore, read_all_gold, score
    from dataset_builders.text.splitter import DEFAULT_SPLITTER, get_splitter

    gold = read_all_gold(realdata / "text_ja")
    out = {}
    for name in dict.fromkeys((DEFAULT_SPLITTER, "fast")):
        s = get_splitter(name)
        per = {g: sum((score(d.text, s.boundaries(d.text), d.boundaries) for d in docs), BoundaryScore())
               for g, docs in gold.items()}
        total = sum(per.values(), BoundaryScore())
        out[name] = {"all": round(total.f1, 4), **{g: round(v.f1, 4) for g, v in per.items()}}
    print("text_ja boundary F1: " + json.dumps(out, ensure_ascii=False))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds of the speed comparison")
    args = ap.parse_args(argv or [])  # bench.run calls main() with no arguments
    if not (args.realdata / "labels" / "pages.jsonl").is_file():
        raise SystemExit(f"labelled pages not found under {args.realdata}; pass --realdata")
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    return {"quality": bench_quality(args.realdata), "speed": bench_speed(args.realdata, args.rounds),
            "sentences": bench_sentences(args.realdata)}


if __name__ == "__main__":
    main(sys.argv[1:])
