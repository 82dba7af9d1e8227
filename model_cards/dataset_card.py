"""Dataset cards: the README.md that makes a dataset folder loadable and explains it.

The YAML header carries ``configs``/``data_files`` and ``dataset_info.features`` (declared from the
schema, so ``load_dataset(folder)`` works whatever the number of images per sample), the licence
(``other`` only with ``license_name`` + ``license_link``) and the removal contact; the body shows
how to load it, every column with its description, the funnel and the thresholds, then what a
Hub reader of web data looks for: sources and crawl dates, licences, how to ask for removal,
personal information, known biases and limits. Rendered with huggingface_hub's card classes and
checked with :mod:`model_cards.card_checks` before a release.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets
from huggingface_hub import DatasetCard, DatasetCardData

from dataset_builders.funnel import Funnel
from dataset_builders.project import PROJECT_URL
from dataset_builders.schema import SCHEMAS, DatasetSchema

TEMPLATE = Path(__file__).parent / "templates" / "dataset_card.md"
#: Schemas whose samples come from crawled web pages (the card's removal and personal-data text).
WEB_SCHEMAS = ("pairs", "interleaved")

COLUMN_DOCS = {
    "__key__": "sample key (stable hash of its source)",
    "__url__": "shard the sample was read from",
    "jpg": "the image (JPEG)",
    "txt": "the image's text (alt text or caption)",
    "json": "metadata (fields below)",
}
#: ``json.*`` descriptions for schemas that do not carry their own (``DatasetSchema.json_docs``).
JSON_FIELD_DOCS = {
    # pairs
    "url": "URL of the image as found on the page",
    "source_url": "URL of the web page the sample comes from",
    "width": "width of the stored image in pixels",
    "height": "height of the stored image in pixels",
    "alt_raw": "the alt text exactly as on the page, before normalisation (`txt` is the normalised text)",
    "original_width": "width of the image as downloaded",
    "original_height": "height of the image as downloaded",
    "phash": "perceptual hash of the image (imagehash.phash, 16 hex digits)",
    "nsfw": "NSFW probability from the NSFW scorer (null when the filter was off)",
    "clip_scores": "raw image–text similarity per CLIP model, by model name",
    "clip_score": "combined CLIP score: mean over models of score / abs(corpus median of that model's scores); "
                  "the cut uses it",
    # interleaved
    "texts": "the document's sentences in reading order",
    "image_positions": "image slot k follows sentence image_positions[k]",
    "image_urls": "URL of each image slot, in slot order",
    "similarities": "image–sentence similarity of each image with the sentence it was placed after",
    "num_tokens": "tokens of the document with its images (tokens per image included), as the rules counted",
    # instruct
    "conversations": "the turns: role (user or assistant) and content; the first user turn starts with `<image>\\n`",
    "task": "kind of sample (the builder's task name, e.g. conversation, detail, vqa)",
    "source": "where the image and its annotations come from",
    "image_id": "identifier of the image in its source",
    "generator": "model that generated the text (null when converted, not generated)",
    "prompt_version": "version of the prompt the generator was given",
    # evolve
    "generation": "`ja-vila evolve` generation that produced the sample",
    "task_name": "the evolved task the sample belongs to",
    "inspired_by": "ids of the validation failures (or parent questions) the task was derived from",
    "agreement": "share of the annotator's k answers that agreed with the kept answer",
}

_LIMITS = {
    "web": [
        "Web text and images reflect what Japanese-language sites publish (topics, regions, viewpoints and "
        "stereotypes included); nothing was rebalanced.",
        "Texts are written by page authors and can be wrong, promotional or unrelated to the image.",
        "The filters (language, harmful words, NSFW, duplicates) are automatic: unwanted content can remain and "
        "acceptable content was dropped; the funnel shows how much each removed.",
    ],
    "pairs": ["CLIP scores and the cut inherit the biases of the CLIP models used: pairs that resemble their "
              "training data score high."],
    "interleaved": ["Images are placed after the sentence a similarity model matched best, which can be the "
                    "wrong sentence."],
    "instruct": ["Conversations are written by a generator model from annotations or from the image: they can "
                 "state things the image does not show, and follow the generator's style and biases."],
}


@dataclass
class DatasetCardInfo:
    """What a builder (or a release) knows about its dataset beyond the schema and the counts.

    ``warnings`` are shown in bold under the title (e.g. a build with tiny random scorers);
    ``limits`` are the "Known biases and limits" bullets (default: the schema's);
    ``license``/``license_name``/``license_link`` and ``contact`` are set by the release.
    """

    pretty_name: str
    description: str
    repo_id: str = ""
    license: str = "unknown"
    license_name: str | None = None
    license_link: str | None = None
    contact: str = ""
    thresholds: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    crawl_dates: str = ""
    warnings: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)
    task_categories: list[str] = field(default_factory=lambda: ["image-text-to-text"])

    def render(self, schema: DatasetSchema, funnel: Funnel, n_samples: int, n_shards: int) -> str:
        """The card's text (``finalize_dataset`` calls this to write a folder's README.md)."""
        return str(render_dataset_card(schema, self, funnel, n_samples=n_samples, n_shards=n_shards))


def tiny_scorer_warning(scorers: Iterable[dict[str, Any] | None]) -> list[str]:
    """The card warning for a build scored by tiny random models (the demo's presets), else []."""
    tiny = sorted({s["type"] for s in scorers if s and str(s.get("type", "")).startswith("tiny")})
    if not tiny:
        return []
    return [f"Built with tiny random scorers ({', '.join(f'`{t}`' for t in tiny)}), not real models: every score "
            "and every cut based on a score is meaningless. This folder shows the format, not a usable dataset."]


def default_limits(schema_name: str) -> list[str]:
    """Known biases and limits of a schema's data (the card's default bullets)."""
    if schema_name in WEB_SCHEMAS:
        return [*_LIMITS["web"], *_LIMITS[schema_name]]
    return list(_LIMITS["instruct"])


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", name).strip("-") or "dataset"


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


def json_field_doc(schema: DatasetSchema, name: str) -> str:
    """A ``json`` field's description: the schema's own (``json_docs``) when it has one, else ours."""
    own = getattr(schema, "json_docs", None) or {}
    return own.get(name) or JSON_FIELD_DOCS.get(name, "")


def schema_rows(schema: DatasetSchema) -> list[dict[str, str]]:
    rows = []
    for name, feature in schema.features.items():
        doc = COLUMN_DOCS.get(name) or (f"image slot {name.split('.')[0]} (None when empty)" if name.endswith(".jpg") else "")
        rows.append({"name": name, "type": _feature_type(feature), "doc": doc})
    for name, feature in schema.json_fields.items():
        rows += _json_rows(f"json.{name}", feature, {**JSON_FIELD_DOCS, **schema.json_docs}, name)
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
    extra: dict[str, Any] = {}
    if info.license_name:
        extra["license_name"] = info.license_name
    if info.license_link:
        extra["license_link"] = info.license_link
    if info.contact:
        extra["contact"] = info.contact
    return DatasetCardData(
        language=["ja"],
        license=info.license,
        pretty_name=info.pretty_name,
        task_categories=info.task_categories,
        size_categories=[size],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.tar"}]}],
        dataset_info=datasets.DatasetInfo(features=schema.features)._to_yaml_dict(),
        **extra,
    )


def render_dataset_card(
    schema: DatasetSchema, info: DatasetCardInfo, funnel: Funnel, n_samples: int, n_shards: int
) -> DatasetCard:
    return DatasetCard.from_template(
        card_metadata(schema, info, n_samples),
        template_path=str(TEMPLATE),
        pretty_name=info.pretty_name,
        description=info.description,
        warnings=info.warnings,
        repo_id=info.repo_id or f"ORG/{_slug(info.pretty_name)}",
        released=bool(info.repo_id) and not info.repo_id.startswith("ORG/"),
        project_url=PROJECT_URL,
        schema_name=schema.name,
        web=schema.name in WEB_SCHEMAS,
        n_samples=f"{n_samples:,}",
        n_shards=n_shards,
        schema_rows=schema_rows(schema),
        json_fields=list(schema.json_fields),
        empty=n_samples == 0,
        funnel_table=funnel.to_markdown(),
        thresholds=info.thresholds,
        sources=info.sources,
        crawl_dates=info.crawl_dates,
        license=info.license,
        license_name=info.license_name,
        license_link=info.license_link,
        contact=info.contact,
        limits=info.limits or default_limits(schema.name),
    )


# -- reading a card back (release: re-render a built folder's card for its Hub repo) ---------------
_SECTION = re.compile(r"^## (.+?)\s*$", re.M)
_THRESHOLD = re.compile(r"^- \*\*(.+?)\*\*: (.*)$")
_JSON_ROW = re.compile(r"^\| `json\.([^`]+)` \| [^|]* \| (.*) \|\s*$", re.M)
_WARNING = re.compile(r"^> \*\*Warning:\*\* (.*)$", re.M)
_DESCRIPTION = re.compile(r"^# [^\n]*\n\n(?:> \*\*Warning:\*\* [^\n]*\n\n)*(.*?)\n\nBuilt with \[ja-vila\]", re.S | re.M)
_CRAWL_DATES = re.compile(r"^Crawl dates: (.*)$", re.M)
NO_CRAWL_DATES = "not recorded"


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

    A built folder keeps its description, thresholds, sources, warnings and limits only in its
    card, so a release reads them back from there and renders the card again for the real repo id.
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
    sources_section = sections.get("Sources and terms", "")
    dates = _CRAWL_DATES.search(sources_section)
    crawl_dates = dates.group(1).strip() if dates else ""
    return DatasetCardInfo(
        pretty_name=data.get("pretty_name") or "dataset",
        description=m.group(1).strip(),
        license=data.get("license") or "unknown",
        license_name=data.get("license_name"),
        license_link=data.get("license_link"),
        contact=data.get("contact") or "",
        thresholds=thresholds,
        sources=_bullets(sources_section),
        crawl_dates="" if crawl_dates.startswith(NO_CRAWL_DATES) else crawl_dates,
        warnings=_WARNING.findall(card.text.split("\nBuilt with [ja-vila]", 1)[0]),
        limits=_bullets(sections.get("Known biases and limits", "")),
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


def dataset_card_for_repo(card: DatasetCard, stats: dict, repo_id: str, **release: Any) -> DatasetCard:
    """A built folder's card rendered again for ``repo_id``, from its structured parts.

    The description, thresholds, sources, warnings and limits come back from the card
    (:func:`card_info_from_card`), the columns from its ``dataset_info`` (:func:`schema_from_card`),
    counts and funnel from ``stats.json``; ``release`` sets what a release decides (``license``,
    ``license_name``, ``license_link``, ``contact``, ``crawl_dates``). The result is what the same
    build would have written with those values.
    """
    info = card_info_from_card(card)
    info.repo_id = repo_id
    for key, value in release.items():
        if not hasattr(info, key):
            raise TypeError(f"unknown card field {key!r}")
        if value is not None:
            setattr(info, key, value)
    schema = schema_from_card(card, stats["schema"])
    funnel = Funnel.from_list(stats.get("funnel") or [])
    return render_dataset_card(schema, info, funnel, n_samples=int(stats["samples"]), n_shards=int(stats["shards"]))
