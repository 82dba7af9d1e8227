"""Fast sentence splitter vs bunkai on real Japanese text: speed (characters/s on one core) and
boundary agreement (F1 of fast against bunkai), plus each splitter's F1 against the gold files.

Text: Aozora 檸檬 paragraphs, UD-GSD test sentences (20 per document), the text blocks of the 29
Japanese HTML pages and the gold files' texts (≈ 152K characters, split into one
slice per round). The agreement decides the
default splitter (rule in dataset_builders/text/splitter.py: fast only if F1 ≥ 0.995).

    python -m bench.splitter
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.common import ROUNDS, report, timed
from dataset_builders.text.boundary_eval import BoundaryScore, read_gold_dir, real_japanese_texts, score
from dataset_builders.text.splitter import FAST_AGREEMENT_THRESHOLD, choose_default, get_splitter

FAST_REPEAT = 20
REALDATA = Path(
    os.environ.get("JA_VILA_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata")
)


def main() -> dict:
    gold = read_gold_dir(REALDATA / "text_ja")
    docs = [t for v in real_japanese_texts(REALDATA).values() for t in v]
    docs += [d.text for v in gold.values() for d in v]
    n_chars = sum(map(len, docs))
    bunkai, fast, quote = get_splitter("bunkai"), get_splitter("fast"), get_splitter("fast_quote")
    bunkai.boundaries("準備。")  # build Janome outside the timing

    # Round i times fast, then bunkai, on slice docs[i::ROUNDS] (similar mixes of every source); the
    # slices together are all the text, so bunkai runs once over everything and its output gives the
    # agreement figures.
    slices = [list(range(i, len(docs), ROUNDS)) for i in range(ROUNDS)]
    ref: list[list[int] | None] = [None] * len(docs)
    fast_rates, bunkai_rates = [], []
    fast.boundaries(docs[0])
    for idx in slices:
        chars = sum(len(docs[i]) for i in idx)
        # fast takes milliseconds per slice: time FAST_REPEAT passes so the figure is not timer noise
        fast_s = timed(lambda idx=idx: [fast.boundaries(docs[i]) for _ in range(FAST_REPEAT) for i in idx])
        fast_rates.append(chars * FAST_REPEAT / fast_s)
        t0 = time.perf_counter()
        for i in idx:
            ref[i] = bunkai.boundaries(docs[i])
        bunkai_rates.append(chars / (time.perf_counter() - t0))

    agree = sum((score(t, fast.boundaries(t), r) for t, r in zip(docs, ref, strict=True)), BoundaryScore())
    agree_q = sum((score(t, quote.boundaries(t), r) for t, r in zip(docs, ref, strict=True)), BoundaryScore())
    gold_f1 = {}
    for name, s in (("bunkai", bunkai), ("fast", fast), ("fast_quote", quote)):
        gold_f1[name] = {
            g: round(
                sum((score(d.text, s.boundaries(d.text), d.boundaries) for d in gd), BoundaryScore()).f1, 4
            )
            for g, gd in gold.items()
        }
    return report(
        "splitter",
        fast_rates,
        bunkai_rates,
        "chars/s",
        "bunkai",
        chars=n_chars,
        f1_fast_vs_bunkai=round(agree.f1, 5),
        tp=agree.tp,
        fp=agree.fp,
        fn=agree.fn,
        f1_fast_quote_vs_bunkai=round(agree_q.f1, 5),
        default=choose_default(agree.f1),
        threshold=FAST_AGREEMENT_THRESHOLD,
        gold_f1=gold_f1,
    )


if __name__ == "__main__":
    main()
