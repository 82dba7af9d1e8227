"""Extraction quality measured on hand-labelled pages (``ja-vila quality``).

- ``labels`` — the labelled-pages file (``pages.jsonl``) and loading each page as a builder reads it;
- ``metrics`` — character-bigram overlap and the image / alt / harmful counts;
- ``evaluate`` — runs both builders' own extract-stage steps on every page and builds the report.
"""

from dataset_builders.quality.evaluate import (
    QualityConfigs,
    evaluate_pages,
    format_table,
    load_quality_configs,
)
from dataset_builders.quality.labels import LabelledPage, load_page_document, read_labels
from dataset_builders.quality.metrics import bigram_prf

__all__ = [
    "LabelledPage", "QualityConfigs", "bigram_prf", "evaluate_pages", "format_table", "load_page_document",
    "load_quality_configs", "read_labels",
]
