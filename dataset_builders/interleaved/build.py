"""``ja-vila build interleaved``: the ja-interleaved dataset (LLM-jp-3 VILA §3, MMC4-style).

    ja-vila build interleaved --input crawl/ --output out/ja-interleaved --config configs/data/interleaved.yaml

The whole recipe is :func:`build_interleaved`, read top to bottom: three stages (each a datatrove
pipeline over ``executor.tasks`` tasks, chained through document stores in the work folder) and,
between them, the merges of the corpus-wide rules (:mod:`dataset_builders.pipeline.corpus_rule`).
It is the paper's order with the cheap text rules moved before the download: they do not depend on
images, so the kept set is the same and no image of a doomed page is fetched.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.dedup import DedupImagesInDocument
from dataset_builders.errors import check_writable
from dataset_builders.interleaved.rules import InterleavedRules
from dataset_builders.interleaved.sample import INTERLEAVED_DOCS, to_interleaved_sample
from dataset_builders.interleaved.steps import AssignImages, DocumentRules, SentenceCountFilter
from dataset_builders.pipeline.build_lock import build_lock
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments
from dataset_builders.pipeline.frequent_images import FrequentImages
from dataset_builders.pipeline.image_domains import FrequentImageDomains
from dataset_builders.pipeline.manifest import build_manifest, check_manifest, default_work_dir
from dataset_builders.pipeline.site_rules import SiteImages, SiteLines
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.pipeline.web_steps import WebConfig, download_and_check_images, read_japanese_pages
from dataset_builders.pipeline.write_shards import WriteShards
from dataset_builders.scoring.nsfw import NsfwConfig, nsfw_card_line, nsfw_steps
from dataset_builders.scoring.preflight import check_models
from dataset_builders.scoring.presets import PAPER_INTERLEAVED_SCORER as PAPER_SCORER
from dataset_builders.scoring.registry import check_scorer_config
from dataset_builders.scoring.similarity import ImageSentenceSimilarity
from dataset_builders.text.harmful import ALL_KINDS, DOCUMENT_MATCHING, HarmfulContentFilter, KeywordMatching
from dataset_builders.text.ja_quality import JapaneseQualityFilter, JapaneseQualityRules
from dataset_builders.text.split_step import SplitSentences
from dataset_builders.text.splitter import DEFAULT_SPLITTER
from dataset_builders.web.image_context import ContentImageRules, ContentImagesOnly
from model_cards.dataset_card import DatasetCardInfo, tiny_scorer_warning

logger = logging.getLogger(__name__)


@dataclass
class HarmfulConfig:
    """HojiChar's Japanese word lists; one hit drops the document (as HojiChar and llm-jp-corpus)."""

    kinds: tuple[str, ...] = ALL_KINDS
    ignore_confused: bool = True
    matching: KeywordMatching = field(default_factory=lambda: DOCUMENT_MATCHING)


@dataclass
class InterleavedConfig:
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    web: WebConfig = field(default_factory=WebConfig)
    harmful: HarmfulConfig = field(default_factory=HarmfulConfig)
    content_images: ContentImageRules = field(default_factory=ContentImageRules)
    splitter: str = DEFAULT_SPLITTER
    merge_symbol_only_sentences: bool = True
    quality: JapaneseQualityRules = field(default_factory=JapaneseQualityRules)
    dedup_max_distance: int = 5
    nsfw: NsfwConfig | None = field(default_factory=NsfwConfig)
    scorer: dict[str, Any] = field(default_factory=lambda: dict(PAPER_SCORER))
    rules: InterleavedRules = field(default_factory=InterleavedRules)
    tokenizer: str = "llm-jp/llm-jp-3-13b-instruct"
    shard_max_samples: int = 1000
    repo_id: str = "ORG/ja-interleaved"

    def __post_init__(self) -> None:
        check_scorer_config(self.scorer, "scorer")


def card_info(config: InterleavedConfig) -> DatasetCardInfo:
    r = config.rules
    return DatasetCardInfo(
        pretty_name="ja-interleaved",
        description=(
            "Japanese web documents with 2–5 images placed between their sentences (MMC4-style), built as in "
            "the LLM-jp-3 VILA paper (§3 Interleaved データ). `json.texts` are the sentences in order; image "
            "slot *k* follows sentence `json.image_positions[k]`."
        ),
        repo_id=config.repo_id,
        thresholds={
            "Japanese page": f"kana+kanji share ≥ {config.web.japanese.min_japanese_ratio}, kana share ≥ {config.web.japanese.min_kana_ratio}",
            "page": "page chrome (nav/header/footer/aside/menu, share, author, ad, related, hidden) and boilerplate lines (link lists, related/PR sections, consent notices, bylines, credits) removed before the text is split; code blocks kept whole",
            "images before download": "declared size below the size rule, tracking pixels, placeholders, teasers of other pages and images whose line was boilerplate dropped; png/jpg/gif/webp",
            "harmful documents": f"HojiChar {', '.join(config.harmful.kinds)} word lists: ASCII words whole, one-kanji words outside words, short words only next to a strong hit, ≥ {config.harmful.matching.min_hits} hits and ≥ {config.harmful.matching.min_hits_per_1000_chars} per 1,000 characters (ignore_confused={config.harmful.ignore_confused})",
            "Japanese quality": f"hiragana share ≥ {config.quality.min_hiragana_share}, mean sentence {config.quality.min_mean_sentence_chars:g}–{config.quality.max_mean_sentence_chars:g} characters, no sentence over {config.quality.max_sentence_chars}, ≤ {config.quality.max_duplicate_sentence_share:.0%} repeated sentences",
            "site template": f"images and sentences on ≥ {config.web.site_repetition.min_pages} pages of one site removed before download" if config.web.site_repetition.enabled else "off",
            "sentences": f"{config.splitter} splitter; sentences without digit, Latin letter or Japanese character merged into the previous one",
            "image size": f"shorter side ≥ {config.web.image_size.min_side}px, aspect {config.web.image_size.min_aspect}–{config.web.image_size.max_aspect}",
            "duplicates": f"pHash Hamming ≤ {config.dedup_max_distance} within a page (largest kept); images with ≥ {config.web.frequent_images.min_duplicates} near-duplicates in samples of {config.web.frequent_images.sample_size} removed",
            "NSFW": nsfw_card_line(config.nsfw),
            "similarity": f"{config.scorer}; an image below {r.min_similarity} for every sentence is removed",
            "assignment": f"{r.solver} linear assignment maximising total similarity (lapjv padded as MMC4 gives the same result)",
            "documents": f"{r.min_images}–{r.max_images} images, {r.min_sentences}–{r.max_sentences} sentences, assigned pairs ≥ {r.min_similarity}, ≤ {r.max_tokens} tokens ({r.tokens_per_image} per image, tokenizer {config.tokenizer})",
        },
        sources=["Web pages as given by --input (respect each site's terms; robots.txt and X-Robots-Tag noai honoured at download)."],
        warnings=tiny_scorer_warning([config.scorer, config.nsfw.scorer if config.nsfw else None]),
    )


def extract_text_steps(config: InterleavedConfig) -> list[PipelineStep]:
    """Content images → harmful words → sentences → Japanese quality → sentence count: every
    interleaved rule that decides before download (``ja-vila quality`` runs the same list)."""
    r = config.rules
    return [
        ContentImagesOnly(config.content_images),
        HarmfulContentFilter(config.harmful.kinds, config.harmful.ignore_confused, matching=config.harmful.matching),
        SplitSentences(config.splitter, merge=config.merge_symbol_only_sentences),
        JapaneseQualityFilter(config.quality),
        SentenceCountFilter(r.min_sentences, r.max_sentences),
    ]


def build_interleaved(
    inputs: list[str | os.PathLike], output: str | os.PathLike, config: InterleavedConfig,
    work_dir: str | os.PathLike | None = None, extra_text_steps: list[PipelineStep] | None = None,
) -> dict:
    """Build the dataset folder ``output`` from WARC/JSONL ``inputs``; returns its ``stats.json`` content.

    ``extra_text_steps`` (your own filters, or URL rewriting in tests) run after the builder's
    text rules and before anything is downloaded.
    """
    check_models(config.nsfw, {"scorer": config.scorer}, {"tokenizer": config.tokenizer})  # before anything is read
    output = Path(output)
    work = Path(work_dir) if work_dir else default_work_dir(output)
    check_writable(output, "--output")  # before any stage: a read-only output must not fail after scoring
    check_writable(work, "--work-dir")
    with build_lock(work):  # one build per work folder; the second says who holds it
        check_manifest(work, output, build_manifest("interleaved", inputs, config, extra_text_steps))  # continue or refuse
        web, r, ex = config.web, config.rules, config.executor

        # corpus-wide rules: collected in one stage, merged here from all tasks, applied in a later stage
        image_domains = FrequentImageDomains(work, web.download)  # image domains too frequent to hit
        frequent_images = FrequentImages(work, web.frequent_images)  # images with many near-duplicates
        site_images = SiteImages(work, web.site_repetition)  # images of a site's template
        site_lines = SiteLines(work, web.site_repetition, min_sentences=r.min_sentences)  # a site's standing lines

        # 1. pages → Japanese documents → content images → harmful words → sentences → quality (nothing downloaded yet)
        extract = run_stage("extract", [
            *read_japanese_pages(inputs, web),
            *extract_text_steps(config),
            *(extra_text_steps or []),
            site_images.collect_step(),
            site_lines.collect_step(),
            image_domains.collect_step(),
            SaveDocuments(work / "extracted"),
        ], work, ex)
        site_images.merge(ex.tasks)
        site_lines.merge(ex.tasks)
        image_domains.merge(ex.tasks)

        # 2. download → size / aspect → pHash → near-duplicates within the page
        download = run_stage("download", [
            LoadDocuments(work / "extracted"),
            site_lines.apply_step(),
            site_images.apply_step(),
            image_domains.apply_step(),
            *download_and_check_images(work, web),
            DedupImagesInDocument(config.dedup_max_distance),
            frequent_images.collect_step(),
            SaveDocuments(work / "downloaded"),
        ], work, ex)
        frequent_images.merge(ex.tasks)

        # 3. frequent images → NSFW → image × sentence similarities → assignment → document rules → shards
        score = run_stage("score_and_write", [
            LoadDocuments(work / "downloaded"),
            frequent_images.apply_step(),
            *nsfw_steps(config.nsfw),
            ImageSentenceSimilarity(config.scorer),
            AssignImages(r),
            DocumentRules(config.tokenizer, r),
            WriteShards(output, INTERLEAVED_DOCS, to_interleaved_sample, max_samples=config.shard_max_samples),
        ], work, ex)

        funnel = merge_funnels([extract, download, score])
        return finalize_dataset(output, INTERLEAVED_DOCS, card_info(config), funnel=funnel)
