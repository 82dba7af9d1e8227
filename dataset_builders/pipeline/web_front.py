"""The front half both web builders share: pages → Japanese documents with downloaded, checked images.

Stages (each a datatrove pipeline over ``executor.tasks`` tasks, chained through files in ``work``):

1. ``extract``: read WARC/JSONL → main text + images in page order (MMC4 URL rules) → Japanese
   documents only → the builder's own text steps (cheap filters first, so images of documents
   that cannot survive are never downloaded) → count image URLs per domain → save.
2. merge: domains holding too many of the corpus's image URLs are skipped (spares those servers).
3. ``download``: polite, resumable download → size/aspect rules → pHash → the builder's image
   steps (e.g. dedup within a document) → record every image's pHash → save.
4. merge: images with >= 10 near-duplicates in their 60K sample are listed for removal; the
   builder's next stage drops them with :class:`DropFrequentImages`.

Every decision that needs the whole corpus is taken in a merge from all tasks' files, so 1 task
and N tasks keep the same documents; completed tasks are skipped on a re-run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.step import DownloadImages
from dataset_builders.frequent_images import CollectImageHashes, DropFrequentImages, merge_frequent_images
from dataset_builders.funnel import Funnel
from dataset_builders.image_checks import HashImages, ImageSizeFilter, SizeRules
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments
from dataset_builders.pipeline.image_domains import CountImageDomains, merge_domain_counts
from dataset_builders.pipeline.inputs import readers_for
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.web.html_extract import HtmlExtractor
from dataset_builders.web.image_urls import ImageUrlRules
from dataset_builders.web.japanese import JapaneseFilter


@dataclass
class JapaneseConfig:
    """Document-level Japanese test (share of kana/kanji among letters, and of kana alone)."""

    min_japanese_ratio: float = 0.25
    min_kana_ratio: float = 0.05
    min_letters: int = 20


@dataclass
class FrequentImagesConfig:
    """Seed §3: remove images with >= ``min_duplicates`` near-duplicates (Hamming <= ``max_distance``)
    within samples of ``sample_size`` images; ``sample_size: null`` counts over the whole corpus."""

    sample_size: int | None = 60_000
    min_duplicates: int = 10
    max_distance: int = 5
    seed: int = 0


@dataclass
class WebConfig:
    japanese: JapaneseConfig = field(default_factory=JapaneseConfig)
    url_rules: ImageUrlRules = field(default_factory=ImageUrlRules)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    image_size: SizeRules = field(default_factory=SizeRules)
    frequent_images: FrequentImagesConfig = field(default_factory=FrequentImagesConfig)


@dataclass
class WebFrontResult:
    documents: Path  # store of downloaded documents (LoadDocuments reads it)
    frequent_images_work: Path  # pass DropFrequentImages(this) into the next stage
    funnel: Funnel


def run_web_front(
    inputs: list[str | os.PathLike],
    work: str | os.PathLike,
    config: WebConfig,
    executor: ExecutorConfig,
    text_steps: list[PipelineStep] | None = None,
    image_steps: list[PipelineStep] | None = None,
) -> WebFrontResult:
    work = Path(work)
    extracted, downloaded, hashes = work / "extracted", work / "downloaded", work / "image_hashes"
    ja = config.japanese
    extract = run_stage(
        "extract",
        [
            *readers_for(inputs),
            HtmlExtractor(rules=config.url_rules),
            JapaneseFilter(ja.min_japanese_ratio, ja.min_kana_ratio, ja.min_letters),
            *(text_steps or []),
            CountImageDomains(work),
            SaveDocuments(extracted),
        ],
        work,
        executor,
    )
    skip_domains = merge_domain_counts(work, config.download)
    download = run_stage(
        "download",
        [
            LoadDocuments(extracted),
            DownloadImages(work / "download_cache", config.download, skip_domains=skip_domains),
            ImageSizeFilter(config.image_size),
            HashImages(),
            *(image_steps or []),
            CollectImageHashes(hashes),
            SaveDocuments(downloaded),
        ],
        work,
        executor,
    )
    fi = config.frequent_images
    merge_frequent_images(hashes, fi.sample_size, fi.min_duplicates, fi.max_distance, fi.seed)
    return WebFrontResult(documents=downloaded, frequent_images_work=hashes, funnel=merge_funnels([extract, download]))


__all__ = ["DropFrequentImages", "JapaneseConfig", "WebConfig", "WebFrontResult", "run_web_front"]
