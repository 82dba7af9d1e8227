"""The first two stages of a web builder (extract, download) with their two image rules, for tests
and benchmarks that look at the downloaded documents rather than a finished dataset."""

from __future__ import annotations

import os
from pathlib import Path

from dataset_builders.funnel import Funnel
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments
from dataset_builders.pipeline.frequent_images import FrequentImages
from dataset_builders.pipeline.image_domains import FrequentImageDomains
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.stats_funnel import merge_funnels
from dataset_builders.pipeline.web_steps import WebConfig, download_and_check_images, read_japanese_pages


def run_front(inputs: list[str | os.PathLike], work: str | os.PathLike, web: WebConfig, ex: ExecutorConfig) -> Funnel:
    """Extract + download as the builders run them; the downloaded documents end in ``work/downloaded``."""
    work = Path(work)
    domains, frequent = FrequentImageDomains(work, web.download), FrequentImages(work, web.frequent_images)
    extract = run_stage("extract", [
        *read_japanese_pages(inputs, web),
        domains.collect_step(),
        SaveDocuments(work / "extracted"),
    ], work, ex)
    domains.merge(ex.tasks)
    download = run_stage("download", [
        LoadDocuments(work / "extracted"),
        domains.apply_step(),
        *download_and_check_images(work, web),
        frequent.collect_step(),
        SaveDocuments(work / "downloaded"),
    ], work, ex)
    frequent.merge(ex.tasks)
    return merge_funnels([extract, download])
