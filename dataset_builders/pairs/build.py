"""``ja-vila build pairs``: the ja-pairs dataset (LLM-jp-3 VILA §3 画像・テキスト対データ, COYO-style).

    ja-vila build pairs --input crawl/ --output out/ja-pairs --config configs/data/pairs.yaml

1. front half (:mod:`dataset_builders.pipeline.web_front`): extract, Japanese pages, each image
   with an alt text becomes a pair, alt-text rules (Japanese characters, length, file names,
   HojiChar adult words; whitespace normalised), download, size/aspect, pHash, record (id, alt, pHash);
2. corpus-wide: alt texts seen >= 10 times dropped, one pair per (pHash, alt); images with >= 10
   near-duplicates in their 60K sample dropped; NSFW images dropped; two CLIP scores per pair;
3. corpus-wide: each score divided by its model's corpus median, averaged; the bottom 30% dropped
   (formula: :mod:`dataset_builders.scoring.combine`); write shards + card + stats.json.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.frequent_images import DropFrequentImages
from dataset_builders.pairs.explode import ExplodePairs
from dataset_builders.pairs.frequency import CollectPairKeys, DropByDecision, merge_pair_keys
from dataset_builders.pairs.sample import pairs_schema, to_pair_sample
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.pipeline.web_front import WebConfig, run_web_front
from dataset_builders.pipeline.write_shards import WriteShards
from dataset_builders.scoring.combine import DEFAULT_DROP_FRACTION
from dataset_builders.scoring.nsfw import NsfwConfig, nsfw_steps
from dataset_builders.scoring.pairs import PairScoreCut, PairScorer, PairScoreWriter, merge_pair_scores
from dataset_builders.text.alt_text import DEFAULT_MIN_CHARS, AltTextFilter
from model_cards.dataset_card import DatasetCardInfo, tiny_scorer_warning

PAPER_SCORERS = {
    "openclip_xlmr_h14": {"type": "open_clip", "model": "xlm-roberta-large-ViT-H-14", "pretrained": "frozen_laion5b_s13b_b90k"},
    "japanese_clip": {"type": "transformers", "model": "line-corporation/clip-japanese-base", "trust_remote_code": True},
}


@dataclass
class AltTextConfig:
    min_chars: int = DEFAULT_MIN_CHARS
    check_adult: bool = True
    ignore_confused: bool = True


@dataclass
class PairsConfig:
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    web: WebConfig = field(default_factory=WebConfig)
    alt_text: AltTextConfig = field(default_factory=AltTextConfig)
    max_alt_occurrences: int = 10
    nsfw: NsfwConfig | None = field(default_factory=NsfwConfig)
    scorers: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: dict(v) for k, v in PAPER_SCORERS.items()})
    drop_fraction: float = DEFAULT_DROP_FRACTION
    shard_max_samples: int = 1000
    repo_id: str = "ORG/ja-pairs"


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
            "alt text": f"whitespace stripped and collapsed; needs hiragana, katakana or kanji; ≥ {alt.min_chars} content characters; no file-name-like text; HojiChar adult words dropped (ignore_confused={alt.ignore_confused})",
            "frequency": f"alt texts occurring ≥ {config.max_alt_occurrences} times dropped; one pair per (image pHash, alt text), smallest key kept",
            "image size": f"shorter side ≥ {web.image_size.min_side}px, aspect {web.image_size.min_aspect}–{web.image_size.max_aspect}; stored with longest side ≤ {web.download.max_side}px",
            "frequent images": f"images with ≥ {web.frequent_images.min_duplicates} near-duplicates (pHash Hamming ≤ {web.frequent_images.max_distance}) in samples of {web.frequent_images.sample_size} removed",
            "NSFW": "off" if config.nsfw is None else f"p ≥ {config.nsfw.threshold} removed ({config.nsfw.scorer})",
            "CLIP scores": ", ".join(f"`{k}`: {v}" for k, v in sorted(config.scorers.items())),
            "combined score": "clip_score = mean over models of (score / |corpus median of that model's scores|)",
            "cut": f"the bottom {config.drop_fraction:.0%} of clip_score over the whole corpus dropped (pairs tied at the threshold kept)",
        },
        sources=["Web pages as given by --input (respect each site's terms; robots.txt and X-Robots-Tag noai honoured at download)."],
        warnings=tiny_scorer_warning([*config.scorers.values(), config.nsfw.scorer if config.nsfw else None]),
    )


def build_pairs(
    inputs: list[str | os.PathLike], output: str | os.PathLike, config: PairsConfig,
    work_dir: str | os.PathLike | None = None, extra_text_steps: list[PipelineStep] | None = None,
) -> dict:
    """Build the dataset folder ``output`` from WARC/JSONL ``inputs``; returns its ``stats.json`` content.

    ``extra_text_steps`` (your own filters, or URL rewriting in tests) run after the builder's
    text rules and before anything is downloaded.
    """
    output = Path(output)
    work = Path(work_dir) if work_dir else output.with_name(output.name + ".work")
    alt = config.alt_text
    front = run_web_front(
        inputs,
        work,
        config.web,
        config.executor,
        text_steps=[
            ExplodePairs(), AltTextFilter(alt.min_chars, alt.check_adult, alt.ignore_confused), *(extra_text_steps or [])
        ],
        image_steps=[CollectPairKeys(work)],
    )
    frequency_drops = merge_pair_keys(work, config.max_alt_occurrences)
    scored = run_stage(
        "score",
        [
            LoadDocuments(front.documents),
            DropByDecision(frequency_drops, name="🔁 frequent alt / duplicate pair"),
            DropFrequentImages(front.frequent_images_work),
            *nsfw_steps(config.nsfw),
            PairScorer(config.scorers),
            PairScoreWriter(work),
            SaveDocuments(work / "scored"),
        ],
        work,
        config.executor,
    )
    merge_pair_scores(work, config.drop_fraction)
    written = run_stage(
        "write",
        [
            LoadDocuments(work / "scored"),
            PairScoreCut(work),
            WriteShards(output, pairs_schema(config.scorers), to_pair_sample, max_samples=config.shard_max_samples),
        ],
        work,
        config.executor,
    )
    funnel = merge_funnels([front.funnel, scored, written])
    return finalize_dataset(output, pairs_schema(config.scorers), card_info(config), funnel=funnel)
