"""The three sample schemas (pairs, interleaved, instruct) every builder writes.

A schema is the single source of truth for a dataset's shape: the writer validates samples with
it, and the dataset card declares its ``datasets.Features`` so that ``load_dataset`` reads shards
whose samples carry different numbers of images (see DESIGN §3: without declared features the
WebDataset loader infers columns from the first 5 samples and fails or drops later images).

Builders extend a base schema with their own metadata fields::

    PAIRS.with_json_fields(clip_score=Value("float32"))
"""

from __future__ import annotations

import re
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
class DatasetSchema:
    """Shape of one kind of WebDataset sample.

    Attributes:
        name: schema name (``pairs``, ``interleaved``, ``instruct``).
        image_fields: the image members in slot order (``jpg`` or ``0.jpg`` … ``4.jpg``).
        min_images: how many leading image slots must be filled.
        text_field: a plain-text member (``txt``) that must be a non-empty string, if any.
        json_fields: the ``json`` member's declared fields (all optional; missing ones load as None).
    """

    name: str
    image_fields: tuple[str, ...]
    min_images: int
    text_field: str | None
    json_fields: dict[str, Any] = field(default_factory=dict)

    def with_json_fields(self, **fields: Any) -> DatasetSchema:
        """A copy with extra ``json`` fields (``datasets`` feature types) declared."""
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

PAIRS = DatasetSchema(
    name="pairs",
    image_fields=("jpg",),
    min_images=1,
    text_field="txt",
    json_fields={
        "url": Value("string"),
        "source_url": Value("string"),
        "width": Value("int32"),
        "height": Value("int32"),
    },
)

INTERLEAVED = DatasetSchema(
    name="interleaved",
    image_fields=tuple(f"{i}.jpg" for i in range(MAX_INTERLEAVED_IMAGES)),
    min_images=1,
    text_field=None,
    json_fields={
        "texts": List(Value("string")),
        "image_positions": List(Value("int32")),
        "image_urls": List(Value("string")),
        "source_url": Value("string"),
    },
)

INSTRUCT = DatasetSchema(
    name="instruct",
    image_fields=("jpg",),
    min_images=1,
    text_field=None,
    json_fields={
        "conversations": List({"role": Value("string"), "content": Value("string")}),
        "task": Value("string"),
        "source": Value("string"),
    },
)

SCHEMAS: dict[str, DatasetSchema] = {s.name: s for s in (PAIRS, INTERLEAVED, INSTRUCT)}
