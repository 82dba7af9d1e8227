"""Run both builders' own extract-stage steps on labelled pages and measure what they keep.

The steps are the builders' own lists (:func:`dataset_builders.pipeline.web_steps.extract_steps`
followed by each builder's ``extract_text_steps``), built from the same config classes and keys as
``ja-vila build``. They run page by page, in order, with one difference from a build: a filter that
would drop the *page* (not Japanese, harmful words, sentence count, …) is recorded as the page's
``dropped_by`` and the page goes on through the remaining steps, so the per-image, per-alt and
per-sentence decisions are measured on every page whatever a document-level rule later does. A
filter on the items a page was split into (the pairs builder's alt texts) drops them, as in a build.
The corpus-wide rules (a site's repeated images, alts and lines: :mod:`dataset_builders.pipeline.site_rules`)
need many pages of one site and are not run here; the labelled set has one page per site.

Figures (``report`` keys): ``images`` — precision / recall of the labelled ``content`` images among
the images the interleaved builder would download (``unsure`` ignored; an image the labels do not
know is counted as ``unmatched``, outside both); ``alt_texts`` — the pairs the pairs builder keeps,
by alt label, ``bad_share`` = (navigation + teaser + generic) / kept and ``good_caption_recall``;
``main_text`` — character-bigram overlap of the interleaved builder's sentences with the labelled
main text, pooled over pages (``macro_f1``: mean of per-page F1); ``harmful`` — pages (interleaved)
and alts (pairs) dropped by a harmful-word rule against the pages' ``harmful`` label.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from dataset_builders.config import ConfigError, load_config
from dataset_builders.interleaved.build import InterleavedConfig
from dataset_builders.interleaved.build import extract_text_steps as interleaved_text_steps
from dataset_builders.pairs.build import PairsConfig
from dataset_builders.pairs.build import extract_text_steps as pairs_text_steps
from dataset_builders.pipeline.web_steps import extract_steps
from dataset_builders.quality.labels import LabelledPage, load_page_document
from dataset_builders.quality.metrics import Overlap, bigram_overlap, ratio
from dataset_builders.text.harmful import ALL_KINDS
from dataset_builders.text.whitespace import normalize_whitespace

logger = logging.getLogger(__name__)

BAD_ALT_LABELS = ("navigation", "teaser", "generic")
ALT_LABELS = ("good_caption", "generic", "navigation", "teaser", "other_bad")
BUILDERS = ("pairs", "interleaved")
#: The acceptance targets of issue 15 (printed next to the figures).
TARGETS = {
    ("images", "precision"): (">=", 0.90), ("images", "recall"): (">=", 0.80),
    ("alt_texts", "bad_share"): ("<=", 0.10), ("alt_texts", "good_caption_recall"): (">=", 0.60),
    ("main_text", "f1"): (">=", 0.90), ("harmful", "false_positives"): ("<=", 0),
}


@dataclass
class QualityConfigs:
    pairs: PairsConfig
    interleaved: InterleavedConfig


def _top_keys(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def load_quality_configs(
    pairs_config: str | os.PathLike | None = None,
    interleaved_config: str | os.PathLike | None = None,
    overrides: list[str] | None = None,
) -> QualityConfigs:
    """Both builders' configs (defaults = the paper presets, or the given YAML files) with ``--set``
    overrides: ``key=value`` goes to every builder whose config has ``key``'s first part,
    ``pairs.key=value`` / ``interleaved.key=value`` to that builder only."""
    routed: dict[str, list[str]] = {b: [] for b in BUILDERS}
    classes = {"pairs": PairsConfig, "interleaved": InterleavedConfig}
    for item in overrides or []:
        key = item.split("=", 1)[0].strip()
        head, _, rest = key.partition(".")
        if head in BUILDERS and rest:
            routed[head].append(item.strip()[len(head) + 1 :])
            continue
        targets = [b for b in BUILDERS if head in _top_keys(classes[b])]
        if not targets:
            raise ConfigError(
                f"override {item!r}: no builder has the key {head!r} (pairs: {sorted(_top_keys(PairsConfig))}; "
                f"interleaved: {sorted(_top_keys(InterleavedConfig))})"
            )
        for b in targets:
            routed[b].append(item)
    return QualityConfigs(
        pairs=load_config(PairsConfig, pairs_config, routed["pairs"]),
        interleaved=load_config(InterleavedConfig, interleaved_config, routed["interleaved"]),
    )


def builder_steps(configs: QualityConfigs) -> dict[str, list[PipelineStep]]:
    """Each builder's extract stage without its reader and its bookkeeping steps (domain counts, save)."""
    return {
        "pairs": [*extract_steps(configs.pairs.web), *pairs_text_steps(configs.pairs)],
        "interleaved": [*extract_steps(configs.interleaved.web), *interleaved_text_steps(configs.interleaved)],
    }


@dataclass
class StepRun:
    page: Document | None  # the page after every step (None when a step removed it outright)
    items: list[Document]  # what the last step yielded: the page, or the pairs made from it
    dropped_by: str | None  # the first document-level rule that would drop the page
    item_drops: list[tuple[Document, str]]  # items a filter dropped, with the reason


def _drop_reasons(step: PipelineStep) -> Counter:
    return Counter({k: v.total for k, v in step.stats.stats.items() if k.startswith("dropped_")})


def run_extract_steps(steps: list[PipelineStep], page: Document) -> StepRun:
    """Run ``steps`` on one page (see the module docstring for how page-level drops are handled)."""
    docs, dropped_by, item_drops = [page], None, []
    for step in steps:
        if isinstance(step, BaseFilter):
            kept = []
            for d in docs:
                result = step.filter(d)
                ok, reason = (result, None) if isinstance(result, bool) else result
                reason = reason or type(step).__name__
                if ok:
                    kept.append(d)
                elif d is page:
                    dropped_by = dropped_by or reason
                    kept.append(d)
                else:
                    item_drops.append((d, reason))
            docs = kept
            continue
        before = _drop_reasons(step)
        has_page = any(d is page for d in docs)
        docs = list(step.run(iter(docs)))
        if has_page and not docs and dropped_by is None:
            new = _drop_reasons(step) - before
            dropped_by = next(iter(new), "dropped_" + type(step).__name__)[len("dropped_"):]
    return StepRun(page if docs or page.text else None, docs, dropped_by, item_drops)


def _image_counts(page: LabelledPage, images: list[tuple[str, int | None]]) -> Counter:
    """Labels of the chosen images (by URL, else by position) and how many content images were found."""
    c: Counter = Counter()
    found: set[int] = set()
    for url, image_index in images:
        lab = page.image_label(url, image_index)
        c[lab["label"] if lab else "unmatched"] += 1
        if lab is not None:
            found.add(id(lab))
    content: dict[str, dict] = {}  # one entry per distinct content URL (a page may show one twice)
    for im in page.images:
        url = im.get("lazy_resolved_url") or im.get("resolved_url")
        if im["label"] == "content" and url:
            content.setdefault(url, im)
    c["content_total"] = len(content)
    c["content_found"] = sum(
        1 for url, im in content.items()
        if any(id(o) in found for o in page.images if o["label"] == "content"
               and url == (o.get("lazy_resolved_url") or o.get("resolved_url")))
    )
    return c


def _alt_label(page: LabelledPage, url: str, alt: str, image_index: int | None) -> tuple[str, int | None]:
    """The alt label of the labelled image behind a kept pair (same URL, same alt when several)."""
    cands = [(i, im) for i, im in enumerate(page.images)
             if url in (im.get("resolved_url"), im.get("lazy_resolved_url")) and im.get("alt_label")]
    for i, im in cands:
        if normalize_whitespace(im.get("alt") or "") == alt:
            return im["alt_label"], i
    if cands:
        return cands[0][1]["alt_label"], cands[0][0]
    if image_index is not None and 0 <= image_index < len(page.images) and page.images[image_index].get("alt_label"):
        return page.images[image_index]["alt_label"], image_index
    return "unmatched", None


def _caption_key(page: LabelledPage, i: int) -> tuple[str, str]:
    im = page.images[i]
    return (im.get("lazy_resolved_url") or im.get("resolved_url") or "", normalize_whitespace(im.get("alt") or ""))


def evaluate_pages(pages: list[LabelledPage], root: str | os.PathLike, configs: QualityConfigs) -> dict[str, Any]:
    """The quality report (see the module docstring) over ``pages`` read from ``root``."""
    steps = builder_steps(configs)
    harmful_kinds = set(ALL_KINDS)
    img = Counter()
    alt_kept: Counter = Counter()
    good_total, good_kept = 0, 0
    text = Overlap()
    page_f1s = []
    harm = Counter()
    per_page = []
    for page in pages:
        inter = run_extract_steps(steps["interleaved"], load_page_document(page, root))
        pairs = run_extract_steps(steps["pairs"], load_page_document(page, root))
        inter_doc = inter.page
        media = inter_doc.media if inter_doc is not None else []
        urls = [m.url for m in media]
        sentences = list(inter_doc.metadata.get("sentences") or []) if inter_doc is not None else []
        img += _image_counts(page, [(m.url, (m.metadata or {}).get("image_index")) for m in media])
        pair_docs = [d for d in pairs.items if d is not pairs.page and d.media]
        kept_alts = [[d.media[0].url, d.text] for d in pair_docs]
        # good captions: one per distinct (image URL, alt) — a page may show the same figure twice
        good = {_caption_key(page, i) for i, im in enumerate(page.images)
                if im.get("alt_label") == "good_caption" and _caption_key(page, i)[0]}
        kept_keys = set()
        for d in pair_docs:
            label, idx = _alt_label(page, d.media[0].url, d.text, (d.media[0].metadata or {}).get("image_index"))
            alt_kept[label] += 1
            if idx is not None:
                kept_keys.add(_caption_key(page, idx))
        good_total += len(good)
        good_kept += len(good & kept_keys)
        o = bigram_overlap("\n".join(sentences), page.main_text)
        text += o
        page_f1s.append(o.f1)
        harmful_drop = inter.dropped_by in harmful_kinds
        harm["page_fp"] += harmful_drop and not page.harmful
        harm["page_fn"] += page.harmful and not harmful_drop
        adult_alts = [d for d, r in pairs.item_drops if r in harmful_kinds]
        harm["alt_fp"] += 0 if page.harmful else len(adult_alts)
        per_page.append({
            "source": page.source,
            "dropped_by": inter.dropped_by,
            "images": urls,
            "alts": kept_alts,
            "sentences": sentences,
            "alt_drops": [[d.media[0].url if d.media else None, d.text, r] for d, r in pairs.item_drops],
            "pairs_dropped_by": pairs.dropped_by,
            "main_text_f1": round(o.f1, 4),
        })
    downloaded = img["content"] + img["chrome"]
    kept_total = sum(alt_kept.values())
    return {
        "pages": len(pages),
        "images": {
            "precision": ratio(img["content"], downloaded, 1.0), "recall": ratio(img["content_found"], img["content_total"], 1.0),
            "kept": {k: img[k] for k in ("content", "chrome", "unsure", "unmatched")},
            "content_labelled": img["content_total"],
        },
        "alt_texts": {
            "kept": kept_total, "kept_by_label": {k: alt_kept[k] for k in (*ALT_LABELS, "unmatched") if alt_kept[k] or k in ALT_LABELS},
            "bad_share": ratio(sum(alt_kept[k] for k in BAD_ALT_LABELS), kept_total),
            "good_caption_recall": ratio(good_kept, good_total, 1.0), "good_captions_labelled": good_total,
        },
        "main_text": {"precision": text.precision, "recall": text.recall, "f1": text.f1,
                      "macro_f1": sum(page_f1s) / len(page_f1s) if page_f1s else 0.0},
        "harmful": {"false_positives": harm["page_fp"] + harm["alt_fp"], "false_negatives": harm["page_fn"],
                    "pages_false_positives": harm["page_fp"], "alts_false_positives": harm["alt_fp"]},
        "per_page": per_page,
    }


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def format_table(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    """The figures as a Markdown table (with a baseline column when given), targets beside them."""
    head = "| figure | " + ("baseline | " if baseline else "") + "value | target |"
    rows = [head, "|---|" + ("---|" if baseline else "") + "---|---|"]
    for section, key in [("images", "precision"), ("images", "recall"), ("alt_texts", "kept"),
                         ("alt_texts", "bad_share"), ("alt_texts", "good_caption_recall"),
                         ("main_text", "precision"), ("main_text", "recall"), ("main_text", "f1"),
                         ("main_text", "macro_f1"), ("harmful", "false_positives"), ("harmful", "false_negatives")]:
        op, target = TARGETS.get((section, key), ("", ""))
        cells = [_fmt(r[section][key]) for r in ([baseline] if baseline else []) + [report]]
        rows.append(f"| {section}.{key} | " + " | ".join(cells) + f" | {op} {target} |")
    return "\n".join(rows)


def evaluate_labels(labels: str | os.PathLike, root: str | os.PathLike, configs: QualityConfigs) -> dict[str, Any]:
    """:func:`evaluate_pages` on every page of a labels file."""
    from dataset_builders.quality.labels import read_labels

    return evaluate_pages(read_labels(Path(labels)), root, configs)
