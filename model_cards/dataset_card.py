"""Dataset cards: the README.md that makes a dataset folder loadable and explains it.

The YAML header carries ``configs``/``data_files`` and ``dataset_info.features`` (declared from the
schema, so ``load_dataset(folder)`` works whatever the number of images per sample); the body shows
how to load it, the schema, the funnel and the thresholds. Rendered with huggingface_hub's card
classes, so the metadata is validated the same way the Hub validates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import datasets
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builders.funnel import Funnel
from dataset_builders.schema import DatasetSchema

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md"

COLUMN_DOCS = {
    "__key__": "sample key (stable hash of its source)",
    "__url__": "shard the sample was read from",
    "jpg": "the image (JPEG)",
    "txt": "the image's text (alt text or caption)",
    "json": "metadata (fields below)",
}


@dataclass
class DatasetCardInfo:
    """What a builder knows about its dataset beyond the schema and the counts."""

    pretty_name: str
    description: str
    repo_id: str = "ORG/NAME"
    license: str = "other"
    thresholds: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    task_categories: list[str] = field(default_factory=lambda: ["image-text-to-text"])


def _feature_type(feature) -> str:
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    if isinstance(feature, datasets.List):
        return f"list of {_feature_type(feature.feature)}"
    if isinstance(feature, dict):
        return "struct"
    return type(feature).__name__


def schema_rows(schema: DatasetSchema) -> list[dict[str, str]]:
    rows = []
    for name, feature in schema.features.items():
        doc = COLUMN_DOCS.get(name) or (f"image slot {name.split('.')[0]} (None when empty)" if name.endswith(".jpg") else "")
        rows.append({"name": name, "type": _feature_type(feature), "doc": doc})
    rows += [{"name": f"json.{k}", "type": _feature_type(v), "doc": ""} for k, v in schema.json_fields.items()]
    return rows


def card_metadata(schema: DatasetSchema, info: DatasetCardInfo, n_samples: int) -> DatasetCardData:
    size = "n<1K" if n_samples < 1_000 else "1K<n<10K" if n_samples < 10_000 else "10K<n<100K" if n_samples < 100_000 else "100K<n<1M" if n_samples < 1_000_000 else "1M<n<10M" if n_samples < 10_000_000 else "10M<n<100M"
    return DatasetCardData(
        language=["ja"],
        license=info.license,
        pretty_name=info.pretty_name,
        task_categories=info.task_categories,
        size_categories=[size],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.tar"}]}],
        dataset_info=datasets.DatasetInfo(features=schema.features)._to_yaml_dict(),
    )


def render_dataset_card(
    schema: DatasetSchema, info: DatasetCardInfo, funnel: Funnel, n_samples: int, n_shards: int
) -> DatasetCard:
    return DatasetCard.from_template(
        card_metadata(schema, info, n_samples),
        template_path=str(TEMPLATE),
        pretty_name=info.pretty_name,
        description=info.description,
        repo_id=info.repo_id,
        schema_name=schema.name,
        n_samples=f"{n_samples:,}",
        n_shards=n_shards,
        schema_rows=schema_rows(schema),
        funnel_table=funnel.to_markdown(),
        thresholds=info.thresholds,
        sources=info.sources,
    )
