"""``ja-vila build pairs``: the ja-pairs dataset (LLM-jp-3 VILA §3 画像・テキスト対データ, COYO-style).

    ja-vila build pairs --input crawl/ --output out/ja-pairs --config configs/data/pairs.yaml

The whole recipe is :func:`build_pairs`, read top to bottom: four stages (each a datatrove pipeline
over ``executor.tasks`` tasks, chained through document stores in the work folder) and, between
them, the merges of the corpus-wide rules (:mod:`dataset_builders.pipeline.corpus_rule`), which the
driver runs from every task's rows so that 1 and N tasks keep the same pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.errors import check_writable
from dataset_builders.pairs.explode import ExplodePairs
from dataset_builders.pairs.frequency import MAX_ALT_OCCURRENCES, PairFrequency
from dataset_builders.pairs.sample import pairs_schema, to_pair_sample
from dataset_builders.pipeline.build_lock import build_lock
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments
from dataset_builders.pipeline.frequent_images import FrequentImages
from dataset_builders.pipeline.image_domains import FrequentImageDomains
from dataset_builders.pipeline.manifest import build_manifest, check_manifest, default_work_dir
from dataset_builders.pipeline.site_rules import SiteAlts, SitePairImages
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.pipeline.web_steps import WebConfig, download_and_check_images, read_japanese_pages
from dataset_builders.pipeline.write_shards import WriteShards
from dataset_builders.scoring.combine import DEFAULT_DROP_FRACTION
from dataset_builders.scoring.nsfw import NsfwConfig, nsfw_card_line, nsfw_steps
from dataset_builders.scoring.pairs import PairCut, PairScorer
from dataset_builders.scoring.preflight import check_models
from dataset_builders.scoring.presets import PAPER_PAIR_SCORERS as PAPER_SCORERS
from dataset_builders.scoring.registry import check_scorer_config
from dataset_builders.text.alt_text import DEFAULT_MIN_CHARS, AltTextFilter, CaptionRules
from dataset_builders.text.harmful import KeywordMatching
from model_cards.dataset_card import DatasetCardInfo, tiny_scorer_warning


@dataclass
class AltTextConfig:
    min_chars: int = DEFAULT_MIN_CHARS
    check_adult: bool = True
    ignore_confused: bool = True
    caption: CaptionRules = field(default_factory=CaptionRules)
    adult_matching: KeywordMatching = field(default_factory=KeywordMatching)


@dataclass
class PairsConfig:
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    web: WebConfig = field(default_factory=WebConfig)
    alt_text: AltTextConfig = field(default_factory=AltTextConfig)
    max_alt_occurrences: int = MAX_ALT_OCCURRENCES
    nsfw: NsfwConfig | None = field(default_factory=NsfwConfig)
    scorers: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: dict(v) for k, v in PAPER_SCORERS.items()})
    drop_fraction: float = DEFAULT_DROP_FRACTION
    shard_max_samples: int = 1000
    repo_id: str = "ORG/ja-pairs"

    def __post_init__(self) -> None:
        for name, scorer in self.scorers.items():
            check_scorer_config(scorer, f"scorers.{name}")


def card_info(config: PairsConfig) -> DatasetCardInfo:
    web, alt = config.web, config.alt_text
    return DatasetCardInfo(
        pretty_name="ja-pairs",
        description=(
            "Japanese image / alt-text pairs from web pages, filtered COYO-style as in the LLM-jp-3 VILA paper "
            "(§3 画像・テキスト対データ), with two CLIP scores per pair."
        ),
        repo_id=config.repo_id,
        thresholds={
            "Japanese page": f"kana+kanji share ≥ {web.japanese.min_japanese_ratio}, kana share ≥ {web.japanese.min_kana_ratio}",
            "alt text": f"whitespace stripped and collapsed, a trailing 「 画像」-style label cut; needs hiragana, katakana or kanji; ≥ {alt.min_chars} content characters; no file-name-like text; no generic, navigation, teaser-headline, page-title or copyright/ad text; HojiChar adult words (ASCII whole words, short words only next to a strong hit) dropped (ignore_confused={alt.ignore_confused})",
            "images before download": "page chrome (nav/header/footer/aside/menu, share, author, ad, related, hidden), declared size below the size rule, tracking pixels and placeholders dropped; png/jpg/gif/webp",
            "site template": f"images and alt texts on ≥ {web.site_repetition.min_pages} pages of one site dropped before download" if web.site_repetition.enabled else "off",
            "frequency": f"alt texts occurring ≥ {config.max_alt_occurrences} times dropped; one pair per (image pHash, alt text), smallest key kept",
            "image size": f"shorter side ≥ {web.image_size.min_side}px, aspect {web.image_size.min_aspect}–{web.image_size.max_aspect}; stored with longest side ≤ {web.download.max_side}px",
            "frequent images": f"images with ≥ {web.frequent_images.min_duplicates} near-duplicates (pHash Hamming ≤ {web.frequent_images.max_distance}) in samples of {web.frequent_images.sample_size} removed",
            "NSFW": nsfw_card_line(config.nsfw),
            "CLIP scores": ", ".join(f"`{k}`: {v}" for k, v in sorted(config.scorers.items())),
            "combined score": "clip_score = mean over models of (score / |corpus median of that model's scores|)",
            "cut": f"the bottom {config.drop_fraction:.0%} of clip_score over the whole corpus dropped (pairs tied at the threshold kept)",
        },
        sources=["Web pages as given by --input (respect each site's terms; robots.txt and X-Robots-Tag noai honoured at download)."],
        warnings=tiny_scorer_warning([*config.scorers.values(), config.nsfw.scorer if config.nsfw else None]),
    )


def extract_text_steps(config: PairsConfig) -> list[PipelineStep]:
    """Pages → pairs → the alt-text rules: every pairs rule that decides before download
    (``ja-vila quality`` runs the same list on labelled pages)."""
    alt = config.alt_text
    return [
        ExplodePairs(),
        AltTextFilter(alt.min_chars, alt.check_adult, alt.ignore_confused, caption=alt.caption, matching=alt.adult_matching),
    ]


def build_pairs(
    inputs: list[str | os.PathLike], output: str | os.PathLike, config: PairsConfig,
    work_dir: str | os.PathLike | None = None, extra_text_steps: list[PipelineStep] | None = None,
) -> dict:
    """Build the dataset folder ``output`` from WARC/JSONL ``inputs``; returns its ``stats.json`` content.

    ``extra_text_steps`` (your own filters, or URL rewriting in tests) run after the builder's
    text rules and before anything is downloaded.
    """
    check_models(config.nsfw, {f"scorers.{k}": v for k, v in config.scorers.items()})  # before anything is read
    output = Path(output)
    work = Path(work_dir) if work_dir else default_work_dir(output)
    check_writable(output, "--output")  # before any stage: a read-only output must not fail after scoring
    check_writable(work, "--work-dir")
    with build_lock(work):  # one build per work folder; the second says who holds it
        check_manifest(work, output, build_manifest("pairs", inputs, config, extra_text_steps))  # continue or refuse
        web, ex = config.web, config.executor

        # corpus-wide rules: collected in one stage, merged here from all tasks, applied in a later stage
        image_domains = FrequentImageDomains(work, web.download)  # image domains too frequent to hit
        pair_frequency = PairFrequency(work, config.max_alt_occurrences)  # frequent alts; one pair per (pHash, alt)
        frequent_images = FrequentImages(work, web.frequent_images)  # images with many near-duplicates
        clip_cut = PairCut(work, config.drop_fraction)  # the bottom share of median-weighted CLIP scores
        site_images = SitePairImages(work, web.site_repetition)  # images of a site's template
        site_alts = SiteAlts(work, web.site_repetition)  # alt texts repeated on a site's pages

        # 1. pages → Japanese pages → one pair per image with a usable alt text (nothing downloaded yet)
        extract = run_stage("extract", [
            *read_japanese_pages(inputs, web),
            *extract_text_steps(config),
            *(extra_text_steps or []),
            site_images.collect_step(),
            site_alts.collect_step(),
            image_domains.collect_step(),
            SaveDocuments(work / "extracted"),
        ], work, ex)
        site_images.merge(ex.tasks)
        site_alts.merge(ex.tasks)
        image_domains.merge(ex.tasks)

        # 2. download → size / aspect → pHash
        download = run_stage("download", [
            LoadDocuments(work / "extracted"),
            site_images.apply_step(),
            site_alts.apply_step(),
            image_domains.apply_step(),
            *download_and_check_images(work, web),
            pair_frequency.collect_step(),
            frequent_images.collect_step(),
            SaveDocuments(work / "downloaded"),
        ], work, ex)
        pair_frequency.merge(ex.tasks)
        frequent_images.merge(ex.tasks)

        # 3. corpus-wide drops → NSFW → two CLIP scores per pair (the GPU stage)
        score = run_stage("score", [
            LoadDocuments(work / "downloaded"),
            pair_frequency.apply_step(),
            frequent_images.apply_step(),
            *nsfw_steps(config.nsfw),
            PairScorer(config.scorers),
            clip_cut.collect_step(),
            SaveDocuments(work / "scored"),
        ], work, ex)
        clip_cut.merge(ex.tasks)

        # 4. the CLIP cut → WebDataset shards
        write = run_stage("write", [
            LoadDocuments(work / "scored"),
            clip_cut.apply_step(),
            WriteShards(output, pairs_schema(config.scorers), to_pair_sample, max_samples=config.shard_max_samples),
        ], work, ex)

        funnel = merge_funnels([extract, download, score, write])
        return finalize_dataset(output, pairs_schema(config.scorers), card_info(config), funnel=funnel)
