"""The three sample schemas (pairs, interleaved, instruct) every builder writes.

A schema is the single source of truth for a dataset's shape: the writer validates samples with
it, and the dataset card declares its ``datasets.Features`` so that ``load_dataset`` reads shards
whose samples carry different numbers of images (see DESIGN §3: without declared features the
WebDataset loader infers columns from the first 5 samples and fails or drops later images).

Every ``json`` field carries a one-line description (:class:`Field`) that the card lists beside
its type. Builders extend a base schema with their own metadata fields::

    PAIRS.with_json_fields(clip_score=Field(Value("float32"), "combined CLIP score"))

The provenance fields (:data:`PAGE_PROVENANCE`, :data:`IMAGE_PROVENANCE`) trace every sample back
to its input record (WARC record or JSONL line), its page and the download of each image.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
from datasets import Features, List, Value
from datasets import Image as ImageFeature

#: Allowed characters of a sample key. A dot would start the WebDataset extension, a slash a folder.
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,200}$")

MAX_INTERLEAVED_IMAGES = 5
CONVERSATION_ROLES = ("system", "user", "assistant")


class InvalidSample(ValueError):
    """A sample does not fit its schema; ``reason`` names the rule for drop counts."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Field:
    """A ``json`` field: its ``datasets`` feature and the one-line description the card shows.

    ``parts`` describes the members of a struct (or of a list of structs) field; build such a field
    with :func:`struct_field` so the feature and the parts cannot disagree.
    """

    feature: Any
    description: str
    parts: Mapping[str, Field] | None = None


def struct_field(parts: Mapping[str, Field], description: str, many: bool = False) -> Field:
    """A struct field (``many=True``: a list of structs) from described member fields."""
    inner = {name: f.feature for name, f in parts.items()}
    return Field(List(inner) if many else inner, description, dict(parts))


def _field_docs(name: str, f: Field) -> dict[str, str]:
    docs = {name: f.description}
    if f.parts:
        prefix = f"{name}[]." if isinstance(f.feature, List) else f"{name}."
        for sub, part in f.parts.items():
            docs.update(_field_docs(prefix + sub, part))
    return docs


@dataclass(frozen=True)
class DatasetSchema:
    """Shape of one kind of WebDataset sample.

    Attributes:
        name: schema name (``pairs``, ``interleaved``, ``instruct``).
        image_fields: the image members in slot order (``jpg`` or ``0.jpg`` … ``4.jpg``).
        min_images: how many leading image slots must be filled.
        text_field: a plain-text member (``txt``) that must be a non-empty string, if any.
        json_fields: the ``json`` member's declared fields (all optional; missing ones load as None),
            as ``datasets`` features; given as :class:`Field` they also bring their description.
        json_docs: one-line description per ``json`` field (nested members as ``name[].member``).
    """

    name: str
    image_fields: tuple[str, ...]
    min_images: int
    text_field: str | None
    json_fields: dict[str, Any] = field(default_factory=dict)
    json_docs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        features, docs = {}, dict(self.json_docs)
        for name, value in self.json_fields.items():
            if isinstance(value, Field):
                features[name] = value.feature
                docs.update(_field_docs(name, value))
            else:
                features[name] = value
        object.__setattr__(self, "json_fields", features)
        object.__setattr__(self, "json_docs", docs)

    def with_json_fields(self, **fields: Any) -> DatasetSchema:
        """A copy with extra ``json`` fields declared (:class:`Field`, or a bare ``datasets`` feature)."""
        return replace(self, json_fields={**self.json_fields, **fields})

    @property
    def features(self) -> Features:
        """Columns as ``datasets.load_dataset`` shows them, declared in the dataset card."""
        columns: dict[str, Any] = {"__key__": Value("string"), "__url__": Value("string")}
        columns.update({name: ImageFeature() for name in self.image_fields})
        if self.text_field:
            columns[self.text_field] = Value("string")
        columns["json"] = dict(self.json_fields)
        return Features(columns)

    @property
    def _json_arrow_type(self) -> pa.StructType:
        return Features({"json": dict(self.json_fields)}).arrow_schema.field("json").type

    def validate(self, sample: dict[str, Any]) -> dict[str, Any]:
        """Check ``sample`` and return its ``json`` member normalised (every declared key present).

        Raises :class:`InvalidSample` with the rule that failed. Images are checked for presence
        here and for decodability by the writer.
        """
        key = sample.get("__key__")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise InvalidSample(
                "bad_key",
                f"sample key {key!r} must be 1-200 characters of [A-Za-z0-9_-] (a dot would split it "
                "into a WebDataset extension); build keys with dataset_builders.keys.make_key(...)",
            )
        allowed = ["__key__", *self.image_fields, *([self.text_field] if self.text_field else []), "json"]
        unknown = set(sample) - set(allowed)
        if unknown:
            raise InvalidSample(
                "unknown_member",
                f"sample {key}: members {sorted(unknown)} are not part of the {self.name} schema (allowed: {allowed})",
            )
        filled = [sample.get(f) is not None for f in self.image_fields]
        n_images = sum(filled)
        if n_images < self.min_images:
            raise InvalidSample(
                "missing_image", f"sample {key}: needs at least {self.min_images} image(s), has {n_images}"
            )
        if any(filled[n_images:]) or not all(filled[:n_images]):
            raise InvalidSample(
                "image_slot_gap", f"sample {key}: images must fill slots {self.image_fields[0]} onwards without gaps"
            )
        if self.text_field:
            text = sample.get(self.text_field)
            if not isinstance(text, str) or not text.strip():
                raise InvalidSample("missing_text", f"sample {key}: '{self.text_field}' must be a non-empty string")
        meta = sample.get("json") or {}
        if not isinstance(meta, dict):
            raise InvalidSample("bad_json", f"sample {key}: 'json' must be a dict, got {type(meta).__name__}")
        undeclared = set(meta) - set(self.json_fields)
        if undeclared:
            raise InvalidSample(
                "undeclared_json_field",
                f"sample {key}: json fields {sorted(undeclared)} are not declared in the {self.name} schema; "
                "declare them with schema.with_json_fields(...) so the dataset card lists them",
            )
        meta = {name: meta.get(name) for name in self.json_fields}
        try:
            pa.array([meta], type=self._json_arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
            raise InvalidSample("bad_json", f"sample {key}: json does not match the declared types: {e}") from e
        _CHECKS.get(self.name, _no_check)(key, meta, n_images)
        return meta


def _no_check(key: str, meta: dict, n_images: int) -> None:
    return None


def _check_interleaved(key: str, meta: dict, n_images: int) -> None:
    texts, positions = meta.get("texts") or [], meta.get("image_positions") or []
    if not texts:
        raise InvalidSample("missing_text", f"sample {key}: interleaved json needs a non-empty 'texts' list")
    if len(positions) != n_images:
        raise InvalidSample(
            "bad_image_positions",
            f"sample {key}: {n_images} images but {len(positions)} image_positions (one per image slot)",
        )
    if any(p is None or not 0 <= p < len(texts) for p in positions) or positions != sorted(positions):
        raise InvalidSample(
            "bad_image_positions",
            f"sample {key}: image_positions {positions} must be sentence indices in 0..{len(texts) - 1}, "
            "in document order (slot k follows sentence image_positions[k])",
        )


def _check_instruct(key: str, meta: dict, n_images: int) -> None:
    turns = meta.get("conversations") or []
    roles = [t.get("role") for t in turns]
    if roles and roles[0] == "system":
        roles = roles[1:]
    if not roles or roles[0] != "user" or roles[-1] != "assistant":
        raise InvalidSample(
            "bad_conversation", f"sample {key}: a conversation starts with a user turn and ends with an assistant turn"
        )
    if any(r != ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(roles)):
        raise InvalidSample("bad_conversation", f"sample {key}: user and assistant turns must alternate, got {roles}")
    if any(not (t.get("content") or "").strip() for t in turns):
        raise InvalidSample("bad_conversation", f"sample {key}: every turn needs non-empty content")


_CHECKS = {"interleaved": _check_interleaved, "instruct": _check_instruct}

#: Where the sample's page came from: the input record and the page URL.
PAGE_PROVENANCE: dict[str, Field] = {
    "source_url": Field(Value("string"), "URL of the web page the sample comes from"),
    "source_file": Field(Value("string"), "input file the page was read from (WARC or JSONL), relative to the --input folder"),
    "warc_record_id": Field(Value("string"), "WARC-Record-ID header of the page's response record, verbatim (null for JSONL input)"),
    "warc_date": Field(Value("string"), "WARC-Date of that record, as written in the WARC (null for JSONL input)"),
    "source_line": Field(Value("int32"), "1-based line of the page's record in the JSONL file (null for WARC input)"),
}

#: Where one image came from and what its download saw (keys equal the ``Media.metadata`` keys).
IMAGE_PROVENANCE: dict[str, Field] = {
    "url": Field(Value("string"), "image URL as resolved on the page"),
    "image_index": Field(Value("int32"), "0-based position of the image among the page's `<img>` elements "
                                         "(JSONL text records: in the record's images list)"),
    "in_main_content": Field(Value("bool"), "whether the image sits inside the page's main content (null when "
                                            "the page came without HTML)"),
    "http_status": Field(Value("int32"), "HTTP status of the response the image was read from"),
    "content_type": Field(Value("string"), "Content-Type header of that response"),
    "final_url": Field(Value("string"), "URL the image was served from after redirects (null: no redirect)"),
    "robots_txt": Field(Value("string"), "robots.txt decision for the image URL: allowed, no_robots_txt (4xx: "
                                         "no rules) or not_checked (robots disabled in the config)"),
    "x_robots_tag": Field(Value("string"), "X-Robots-Tag header of the image response (null: none); images "
                                           "opting out with noai / noimageai are never kept"),
    "sha256": Field(Value("string"), "SHA-256 (hex) of the image bytes as downloaded, before re-encoding"),
    "phash": Field(Value("string"), "perceptual hash of the image (imagehash.phash, 16 hex digits)"),
    "width": Field(Value("int32"), "width of the stored image in pixels"),
    "height": Field(Value("int32"), "height of the stored image in pixels"),
    "original_width": Field(Value("int32"), "width of the image as downloaded"),
    "original_height": Field(Value("int32"), "height of the image as downloaded"),
}

PAIRS = DatasetSchema(
    name="pairs",
    image_fields=("jpg",),
    min_images=1,
    text_field="txt",
    json_fields={**PAGE_PROVENANCE, **IMAGE_PROVENANCE},
)

INTERLEAVED = DatasetSchema(
    name="interleaved",
    image_fields=tuple(f"{i}.jpg" for i in range(MAX_INTERLEAVED_IMAGES)),
    min_images=1,
    text_field=None,
    json_fields={
        "texts": Field(List(Value("string")), "the document's sentences in order"),
        "image_positions": Field(List(Value("int32")), "image slot k follows sentence image_positions[k]"),
        "image_urls": Field(List(Value("string")), "URL of each image slot, in slot order"),
        **PAGE_PROVENANCE,
        "images": struct_field(
            {"alt": Field(Value("string"), "the image's alt text on the page (empty when none)"), **IMAGE_PROVENANCE},
            "provenance of each image slot, in slot order",
            many=True,
        ),
    },
)

INSTRUCT = DatasetSchema(
    name="instruct",
    image_fields=("jpg",),
    min_images=1,
    text_field=None,
    json_fields={
        "conversations": Field(List({"role": Value("string"), "content": Value("string")}),
                               "turns [{role, content}]; the first user turn starts with `<image>\\n`"),
        "task": Field(Value("string"), "kind of sample (the builder's task name, e.g. vqa)"),
        "source": Field(Value("string"), "where the image and its annotations come from"),
    },
)

SCHEMAS: dict[str, DatasetSchema] = {s.name: s for s in (PAIRS, INTERLEAVED, INSTRUCT)}
