"""``ja-vila build interleaved``: the ja-interleaved dataset (LLM-jp-3 VILA §3, MMC4-style).

    ja-vila build interleaved --input crawl/ --output out/ja-interleaved --config configs/data/interleaved.yaml

Order of the paper, with the cheap text rules moved before the download (they do not depend on
images, so the kept set is the same and no image of a doomed page is fetched):

1. front half (:mod:`dataset_builders.pipeline.web_front`): extract, Japanese documents,
   harmful-document filters (HojiChar adult / violence / discrimination), sentence split + merge of
   symbol-only sentences, sentence-count rule, download, size/aspect, pHash, dedup within the page;
2. drop images with >= 10 near-duplicates in their 60K sample (corpus-wide), NSFW images;
3. image × sentence CLIP similarities, drop images below 0.20 for every sentence, assignment
   maximising total similarity, document rules (2–5 images, 10–100 sentences, assigned pairs
   >= 0.20, token length within the LLM's maximum), write shards + card + stats.json.
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
from dataset_builders.frequent_images import DropFrequentImages
from dataset_builders.interleaved.rules import InterleavedRules
from dataset_builders.interleaved.sample import INTERLEAVED_DOCS, to_interleaved_sample
from dataset_builders.interleaved.steps import AssignImages, DocumentRules, SentenceCountFilter
from dataset_builders.pipeline.document_store import LoadDocuments
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.pipeline.web_front import WebConfig, run_web_front
from dataset_builders.pipeline.write_shards import WriteShards
from dataset_builders.scoring.nsfw import NsfwConfig, nsfw_steps
from dataset_builders.scoring.similarity import ImageSentenceSimilarity
from dataset_builders.text.harmful import ALL_KINDS, HarmfulContentFilter
from dataset_builders.text.split_step import SplitSentences
from dataset_builders.text.splitter import DEFAULT_SPLITTER
from model_cards.dataset_card import DatasetCardInfo, tiny_scorer_warning

logger = logging.getLogger(__name__)

PAPER_SCORER = {"type": "open_clip", "model": "xlm-roberta-large-ViT-H-14", "pretrained": "frozen_laion5b_s13b_b90k"}


@dataclass
class HarmfulConfig:
    """HojiChar's Japanese word lists; one hit drops the document (as HojiChar and llm-jp-corpus)."""

    kinds: tuple[str, ...] = ALL_KINDS
    ignore_confused: bool = True


@dataclass
class InterleavedConfig:
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    web: WebConfig = field(default_factory=WebConfig)
    harmful: HarmfulConfig = field(default_factory=HarmfulConfig)
    splitter: str = DEFAULT_SPLITTER
    merge_symbol_only_sentences: bool = True
    dedup_max_distance: int = 5
    nsfw: NsfwConfig | None = field(default_factory=NsfwConfig)
    scorer: dict[str, Any] = field(default_factory=lambda: dict(PAPER_SCORER))
    rules: InterleavedRules = field(default_factory=InterleavedRules)
    tokenizer: str = "llm-jp/llm-jp-3-13b-instruct"
    shard_max_samples: int = 1000
    repo_id: str = "ORG/ja-interleaved"


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
            "harmful documents": f"HojiChar {', '.join(config.harmful.kinds)} word lists, any hit drops (ignore_confused={config.harmful.ignore_confused})",
            "sentences": f"{config.splitter} splitter; sentences without digit, Latin letter or Japanese character merged into the previous one",
            "image size": f"shorter side ≥ {config.web.image_size.min_side}px, aspect {config.web.image_size.min_aspect}–{config.web.image_size.max_aspect}",
            "duplicates": f"pHash Hamming ≤ {config.dedup_max_distance} within a page (largest kept); images with ≥ {config.web.frequent_images.min_duplicates} near-duplicates in samples of {config.web.frequent_images.sample_size} removed",
            "NSFW": "off" if config.nsfw is None else f"p ≥ {config.nsfw.threshold} removed ({config.nsfw.scorer})",
            "similarity": f"{config.scorer}; an image below {r.min_similarity} for every sentence is removed",
            "assignment": f"{r.solver} linear assignment maximising total similarity (lapjv padded as MMC4 gives the same result)",
            "documents": f"{r.min_images}–{r.max_images} images, {r.min_sentences}–{r.max_sentences} sentences, assigned pairs ≥ {r.min_similarity}, ≤ {r.max_tokens} tokens ({r.tokens_per_image} per image, tokenizer {config.tokenizer})",
        },
        sources=["Web pages as given by --input (respect each site's terms; robots.txt and X-Robots-Tag noai honoured at download)."],
        warnings=tiny_scorer_warning([config.scorer, config.nsfw.scorer if config.nsfw else None]),
    )


def build_interleaved(
    inputs: list[str | os.PathLike], output: str | os.PathLike, config: InterleavedConfig,
    work_dir: str | os.PathLike | None = None, extra_text_steps: list[PipelineStep] | None = None,
) -> dict:
    """Build the dataset folder ``output`` from WARC/JSONL ``inputs``; returns its ``stats.json`` content.

    ``extra_text_steps`` (your own filters, or URL rewriting in tests) run after the builder's
    text rules and before anything is downloaded.
    """
    output = Path(output)
    work = Path(work_dir) if work_dir else output.with_name(output.name + ".work")
    r = config.rules
    front = run_web_front(
        inputs,
        work,
        config.web,
        config.executor,
        text_steps=[
            HarmfulContentFilter(config.harmful.kinds, config.harmful.ignore_confused),
            SplitSentences(config.splitter, merge=config.merge_symbol_only_sentences),
            SentenceCountFilter(r.min_sentences, r.max_sentences),
            *(extra_text_steps or []),
        ],
        image_steps=[DedupImagesInDocument(config.dedup_max_distance)],
    )
    score = run_stage(
        "score_and_write",
        [
            LoadDocuments(front.documents),
            DropFrequentImages(front.frequent_images_work),
            *nsfw_steps(config.nsfw),
            ImageSentenceSimilarity(config.scorer),
            AssignImages(r),
            DocumentRules(config.tokenizer, r),
            WriteShards(output, INTERLEAVED_DOCS, to_interleaved_sample, max_samples=config.shard_max_samples),
        ],
        work,
        config.executor,
    )
    funnel = merge_funnels([front.funnel, score])
    return finalize_dataset(output, INTERLEAVED_DOCS, card_info(config), funnel=funnel)
