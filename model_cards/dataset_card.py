"""Dataset cards: the README.md that makes a dataset folder loadable and explains it.

The YAML header carries ``configs``/``data_files`` and ``dataset_info.features`` (declared from the
schema, so ``load_dataset(folder)`` works whatever the number of images per sample); the body shows
how to load it, the schema, the funnel and the thresholds. Rendered with huggingface_hub's card
classes, so the metadata is validated the same way the Hub validates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builders.funnel import Funnel
from dataset_builders.project import PROJECT_URL
from dataset_builders.schema import SCHEMAS, DatasetSchema

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

    def render(self, schema: DatasetSchema, funnel: Funnel, n_samples: int, n_shards: int) -> str:
        """The card's text (``finalize_dataset`` calls this to write a folder's README.md)."""
        return str(render_dataset_card(schema, self, funnel, n_samples=n_samples, n_shards=n_shards))


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
    for name, feature in schema.json_fields.items():
        rows += _json_rows(f"json.{name}", feature, schema.json_docs, name)
    return rows


def _json_rows(label: str, feature, docs: dict[str, str], doc_key: str) -> list[dict[str, str]]:
    """A ``json`` field's row, then one row per member of a struct (``a.b``) or list of structs (``a[].b``)."""
    rows = [{"name": label, "type": _feature_type(feature), "doc": docs.get(doc_key, "")}]
    members, sep = None, "."
    if isinstance(feature, dict):
        members = feature
    elif isinstance(feature, datasets.List) and isinstance(feature.feature, dict):
        members, sep = feature.feature, "[]."
    for sub, sub_feature in (members or {}).items():
        if docs.get(f"{doc_key}{sep}{sub}"):
            rows += _json_rows(f"{label}{sep}{sub}", sub_feature, docs, f"{doc_key}{sep}{sub}")
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
        project_url=PROJECT_URL,
        schema_name=schema.name,
        n_samples=f"{n_samples:,}",
        n_shards=n_shards,
        schema_rows=schema_rows(schema),
        json_fields=list(schema.json_fields),
        empty=n_samples == 0,
        funnel_table=funnel.to_markdown(),
        thresholds=info.thresholds,
        sources=info.sources,
    )


# -- reading a card back (release: re-render a built folder's card for its Hub repo) ---------------
_SECTION = re.compile(r"^## (.+?)\s*$", re.M)
_THRESHOLD = re.compile(r"^- \*\*(.+?)\*\*: (.*)$")
_DESCRIPTION = re.compile(r"^# [^\n]*\n\n(.*?)\n\nBuilt with \[ja-vila\]", re.S | re.M)
_JSON_ROW = re.compile(r"^\| `json\.([^`]+)` \| [^|]* \| (.*) \|\s*$", re.M)


def _sections(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _bullets(section: str) -> list[str]:
    """Bullet items of a section; indented or wrapped continuation lines join their item."""
    items: list[str] = []
    for line in section.splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif line.strip() and items:
            items[-1] += " " + line.strip()
    return items


def card_info_from_card(card: DatasetCard) -> DatasetCardInfo:
    """The :class:`DatasetCardInfo` a card was rendered from (the inverse of :func:`render_dataset_card`).

    A built folder keeps its description, thresholds and sources only in its card, so a release
    reads them back from there and renders the card again for the real repo id.
    """
    data = card.data.to_dict()
    m = _DESCRIPTION.search(card.text)
    if not m:
        raise ValueError("the card was not written by ja-vila (no '# title' / description / 'Built with' header); "
                         "rebuild the dataset folder or re-run finalize_dataset")
    sections = _sections(card.text)
    thresholds = {}
    for item in _bullets(sections.get("Thresholds and formulas", "")):
        t = _THRESHOLD.match("- " + item)
        if t:
            thresholds[t.group(1)] = t.group(2)
    return DatasetCardInfo(
        pretty_name=data.get("pretty_name") or "dataset",
        description=m.group(1).strip(),
        license=data.get("license") or "other",
        thresholds=thresholds,
        sources=_bullets(sections.get("Sources and terms", "")),
        task_categories=list(data.get("task_categories") or ["image-text-to-text"]),
    )


def schema_from_card(card: DatasetCard, schema_name: str) -> DatasetSchema:
    """The schema a card declares (its ``dataset_info.features``), named ``schema_name``.

    Builders extend the base schemas with their own ``json`` fields, so the card, not
    :data:`~dataset_builders.schema.SCHEMAS`, is the record of a folder's exact columns (and of
    their descriptions, read back from its schema table).
    """
    dataset_info = card.data.to_dict().get("dataset_info")
    if not isinstance(dataset_info, dict) or "features" not in dataset_info:
        raise ValueError("the card declares no dataset_info.features; rebuild the folder (finalize_dataset writes them)")
    features = datasets.DatasetInfo._from_yaml_dict(dict(dataset_info)).features
    base = SCHEMAS.get(schema_name)
    image_fields = tuple(name for name, f in features.items() if isinstance(f, datasets.Image))
    text_field = "txt" if "txt" in features else None
    json_fields = dict(features["json"]) if "json" in features else {}
    docs = {name: doc.strip() for name, doc in _JSON_ROW.findall(card.text) if doc.strip()}
    return DatasetSchema(name=schema_name, image_fields=image_fields, min_images=base.min_images if base else 1,
                         text_field=text_field, json_fields=json_fields, json_docs=docs)


def dataset_card_for_repo(card: DatasetCard, stats: dict, repo_id: str) -> DatasetCard:
    """A built folder's card rendered again for ``repo_id``, from its structured parts.

    The description, thresholds and sources come back from the card (:func:`card_info_from_card`),
    the columns from its ``dataset_info`` (:func:`schema_from_card`), counts and funnel from
    ``stats.json``; the result is what the same build would have written with that repo id.
    """
    info = card_info_from_card(card)
    info.repo_id = repo_id
    schema = schema_from_card(card, stats["schema"])
    funnel = Funnel.from_list(stats.get("funnel") or [])
    return render_dataset_card(schema, info, funnel, n_samples=int(stats["samples"]), n_shards=int(stats["shards"]))
