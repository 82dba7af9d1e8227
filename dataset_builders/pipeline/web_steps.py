"""Step lists both web builders use: pages → Japanese documents, and image download + checks.

These are pieces, not a pipeline: each builder's ``build.py`` shows its stages top to bottom and
puts these lists, its own steps and its corpus rules' collect / merge / apply where they belong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from dataset_builders.download.config import DownloadConfig
from dataset_builders.download.step import DownloadImages
from dataset_builders.image_checks import HashImages, ImageSizeFilter, SizeRules
from dataset_builders.pipeline.frequent_images import FrequentImagesConfig
from dataset_builders.pipeline.inputs import readers_for
from dataset_builders.pipeline.site_rules import SiteRepetitionConfig
from dataset_builders.web.html_extract import ExtractRules, HtmlExtractor
from dataset_builders.web.image_urls import ImageUrlRules
from dataset_builders.web.japanese import JapaneseFilter


@dataclass
class JapaneseConfig:
    """Document-level Japanese test (share of kana/kanji among letters, and of kana alone)."""

    min_japanese_ratio: float = 0.25
    min_kana_ratio: float = 0.05
    min_letters: int = 20


@dataclass
class WebConfig:
    japanese: JapaneseConfig = field(default_factory=JapaneseConfig)
    url_rules: ImageUrlRules = field(default_factory=ImageUrlRules)
    extract: ExtractRules = field(default_factory=ExtractRules)
    download: DownloadConfig = field(default_factory=DownloadConfig)
    image_size: SizeRules = field(default_factory=SizeRules)
    frequent_images: FrequentImagesConfig = field(default_factory=FrequentImagesConfig)
    site_repetition: SiteRepetitionConfig = field(default_factory=SiteRepetitionConfig)


def extract_steps(web: WebConfig) -> list[PipelineStep]:
    """Page → main text + images in page order (chrome, boilerplate lines, URL / declared-size rules)
    → Japanese documents only. ``ja-vila quality`` runs the same list on labelled pages."""
    ja = web.japanese
    return [
        HtmlExtractor(rules=web.url_rules, content=web.extract, size_rules=web.image_size),
        JapaneseFilter(ja.min_japanese_ratio, ja.min_kana_ratio, ja.min_letters),
    ]


def read_japanese_pages(inputs: list[str | os.PathLike], web: WebConfig) -> list[PipelineStep]:
    """WARC/JSONL readers, then :func:`extract_steps`."""
    return [*readers_for(inputs), *extract_steps(web)]


def download_and_check_images(work: str | os.PathLike, web: WebConfig) -> list[PipelineStep]:
    """Polite, resumable download (state in ``<work>/download_cache``) → size/aspect rules → pHash."""
    return [
        DownloadImages(Path(work) / "download_cache", web.download),
        ImageSizeFilter(web.image_size),
        HashImages(),
    ]


__all__ = ["FrequentImagesConfig", "JapaneseConfig", "WebConfig", "download_and_check_images", "extract_steps",
           "read_japanese_pages"]
