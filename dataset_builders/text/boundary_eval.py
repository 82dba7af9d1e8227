"""Sentence-boundary scoring (precision / recall / F1) and readers for the gold formats in
``realdata/text_ja`` — shared by the tests and ``bench/splitter.py``.

A boundary is a character offset where one sentence ends and the next begins. Splitters disagree on
whether whitespace after ``。`` belongs to the sentence before or after, and one gold format removes
newlines inside sentences, so offsets are compared in a canonical form: the number of
non-whitespace characters before the boundary. The start and the end of the text are not
boundaries (they are free for every splitter), so a one-sentence text has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

NEWLINE_MARK = "\u2581"  # ▁ stands for a newline in bunkai's gold files
BOUNDARY_MARK = "\u2502"  # │ marks a boundary in bunkai's sample.gold.txt


@dataclass(frozen=True, slots=True)
class GoldDoc:
    """A text and its gold boundaries (character offsets into ``text``)."""

    text: str
    boundaries: tuple[int, ...]
    source: str = ""


@dataclass(frozen=True, slots=True)
class BoundaryScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: BoundaryScore) -> BoundaryScore:
        return BoundaryScore(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _nonspace_prefix_counts(text: str) -> list[int]:
    counts = [0] * (len(text) + 1)
    n = 0
    for i, ch in enumerate(text):
        counts[i] = n
        if not ch.isspace():
            n += 1
    counts[len(text)] = n
    return counts


def boundary_keys(text: str, boundaries: Iterable[int]) -> set[int]:
    """Canonical boundaries: non-whitespace characters before each offset, minus start and end."""
    counts = _nonspace_prefix_counts(text)
    total = counts[-1]
    return {k for b in boundaries if 0 < (k := counts[b]) < total}


def score(text: str, predicted: Iterable[int], gold: Iterable[int]) -> BoundaryScore:
    """Compare two boundary sets on one text."""
    p, g = boundary_keys(text, predicted), boundary_keys(text, gold)
    return BoundaryScore(len(p & g), len(p - g), len(g - p))


def boundaries_from_sentences(text: str, sentences: Sequence[str]) -> list[int]:
    """Offsets in ``text`` where each sentence but the last ends, aligning on non-whitespace characters.

    Works when the sentences are stripped or had their inner newlines removed; raises ValueError
    when their characters are not those of ``text``.
    """
    squeeze = "".join(ch for ch in text if not ch.isspace())
    joined = "".join(ch for s in sentences for ch in s if not ch.isspace())
    if squeeze != joined:
        raise ValueError("sentences do not reproduce the text (ignoring whitespace)")
    positions = [i for i, ch in enumerate(text) if not ch.isspace()]  # offset of the k-th non-space char
    out, k = [], 0
    for s in sentences[:-1]:
        k += sum(1 for ch in s if not ch.isspace())
        if 0 < k < len(positions):
            out.append(positions[k])
    return out


def sentences_to_boundaries(sentences: Sequence[str]) -> tuple[str, list[int]]:
    """Concatenate sentences (no separator, as Japanese is written) and return text + boundaries."""
    text, bounds, pos = "", [], 0
    for s in sentences:
        pos += len(s)
        bounds.append(pos)
    text = "".join(sentences)
    return text, bounds[:-1]


# ---- readers for realdata/text_ja ------------------------------------------------------------


def read_bunkai_gold(path: str | Path) -> list[GoldDoc]:
    """bunkai ``sample.gold.txt``: one text per non-empty line, ``│`` boundaries, ``▁`` newlines."""
    docs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        line = line.replace(NEWLINE_MARK, "\n")
        text, bounds = "", []
        for part in line.split(BOUNDARY_MARK):
            text += part
            bounds.append(len(text))
        docs.append(GoldDoc(text, tuple(bounds[:-1]), "bunkai_sample.gold"))
    return docs


def read_doccano(path: str | Path) -> list[GoldDoc]:
    """bunkai ``annotated.jsonl``: ``labels`` are [start, end, tag]; the boundary is at ``end``."""
    docs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        text = rec["text"].replace(NEWLINE_MARK, "\n")
        docs.append(GoldDoc(text, tuple(sorted(end for _, end, _ in rec["labels"])), "bunkai_annotated"))
    return docs


def read_sentence_cases(path: str | Path) -> list[GoldDoc]:
    """``pragmatic_segmenter_ja_spec.json``: cases with ``text`` and expected ``sentences``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [
        GoldDoc(c["text"], tuple(boundaries_from_sentences(c["text"], c["sentences"])), "pragmatic_segmenter")
        for c in data["cases"]
    ]


def read_ud_sentences(path: str | Path, per_doc: int = 20) -> list[GoldDoc]:
    """UD Japanese-GSD ``sent_id<TAB>text`` lines, concatenated ``per_doc`` sentences to a document."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    sents = [ln.split("\t", 1)[1] for ln in lines[1:] if "\t" in ln]
    docs = []
    for i in range(0, len(sents), per_doc):
        text, bounds = sentences_to_boundaries(sents[i : i + per_doc])
        docs.append(GoldDoc(text, tuple(bounds), "ud_japanese_gsd"))
    return docs


def read_gold_dir(text_ja: str | Path) -> dict[str, list[GoldDoc]]:
    """All gold sets of ``realdata/text_ja`` by name."""
    d = Path(text_ja)
    return {
        "bunkai_sample.gold": read_bunkai_gold(d / "bunkai_sample.gold.txt"),
        "bunkai_annotated": read_doccano(d / "bunkai_annotated.jsonl"),
        "pragmatic_segmenter": read_sentence_cases(d / "pragmatic_segmenter_ja_spec.json"),
        "ud_japanese_gsd": read_ud_sentences(d / "ud_japanese_gsd_test_sentences.tsv"),
    }


def read_split_cases(path: str | Path) -> list[GoldDoc]:
    """``ja_sentence_segmenter_split_cases.json``: the cases run with that library's *default* settings
    (no split inside 「」 or (), newlines split), as expected sentence lists."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    docs = []
    for c in data["cases"]:
        if c.get("kwargs") or c.get("extra_positional_args"):
            continue  # a non-default option: that library's variant, not a reference
        text = c["text"].replace("\r\n", "\n").replace("\r", "\n")
        docs.append(GoldDoc(text, tuple(boundaries_from_sentences(text, c["expected"])), "ja_sentence_segmenter"))
    return docs


def read_all_gold(text_ja: str | Path) -> dict[str, list[GoldDoc]]:
    """Every gold text of ``realdata/text_ja``: :func:`read_gold_dir` plus the default-settings cases of
    ja_sentence_segmenter."""
    out = read_gold_dir(text_ja)
    out["ja_sentence_segmenter"] = read_split_cases(Path(text_ja) / "ja_sentence_segmenter_split_cases.json")
    return out


# ---- real Japanese text without gold (for agreement between splitters) ---------------------------

_BLOCK_TAGS = {
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "td",
    "th",
    "dd",
    "dt",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "nav",
    "table",
    "pre",
    "figcaption",
    "hr",
}
_SKIP_TAGS = {"script", "style", "noscript", "head", "template", "svg"}


def html_text_blocks(html: str, min_chars: int = 20) -> list[str]:
    """Text blocks of an HTML page (block tags end a block) with ≥ ``min_chars`` and some Japanese.

    A deliberately simple extractor (html.parser, entities decoded), standing in for the main text
    that the web extractor hands to the interleaved builder.
    """
    from html.parser import HTMLParser

    from dataset_builders.text.chars import has_japanese

    blocks: list[str] = []
    parts: list[str] = []
    skip = [0]

    def flush() -> None:
        text = " ".join("".join(parts).split())
        parts.clear()
        if len(text) >= min_chars and has_japanese(text):
            blocks.append(text)

    class _Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag in _SKIP_TAGS:
                skip[0] += 1
            elif tag in _BLOCK_TAGS:
                flush()

        def handle_endtag(self, tag):
            if tag in _SKIP_TAGS:
                skip[0] = max(0, skip[0] - 1)
            elif tag in _BLOCK_TAGS:
                flush()

        def handle_data(self, data):
            if not skip[0]:
                parts.append(data)

    parser = _Parser(convert_charrefs=True)
    parser.feed(html)
    parser.close()
    flush()
    return blocks


def real_japanese_texts(realdata: str | Path) -> dict[str, list[str]]:
    """Real Japanese documents without gold, by source: Aozora 檸檬 (one text per paragraph), the
    UD-GSD sentences (20 per document) and the text blocks of each Japanese HTML page (one document
    per page, blocks joined by newlines)."""
    root = Path(realdata)
    lemon = [
        p
        for p in (root / "text_ja" / "aozora_kajii_lemon_janome.txt").read_text(encoding="utf-8").split("\n")
        if p.strip()
    ]
    ud = [d.text for d in read_ud_sentences(root / "text_ja" / "ud_japanese_gsd_test_sentences.tsv")]
    pages = []
    for f in sorted((root / "html" / "ja").glob("*.html")):
        blocks = html_text_blocks(f.read_bytes().decode("utf-8", "replace"))
        if blocks:
            pages.append("\n".join(blocks))
    return {"aozora_lemon": lemon, "ud_japanese_gsd": ud, "html_ja": pages}
