"""Structured answers: ask for JSON that fits a pydantic model, and parse the reply strictly.

An answer is one of three things:

* ``ok`` — valid JSON that validates against the model (a Markdown ```json fence is tolerated,
  anything else around the JSON is not);
* ``refused`` — the API's ``refusal`` field is set, the finish reason is ``content_filter``, or the
  reply has no content at all;
* ``malformed`` — anything else (not JSON, wrong fields, cut off by ``max_tokens``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic

try:  # the SDK's converter makes a schema that strict mode accepts (all required, no extras)
    from openai.lib._pydantic import to_strict_json_schema as _strict_schema
except ImportError:  # pragma: no cover - older/newer SDK layouts
    _strict_schema = None

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.DOTALL)


def json_schema_for(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    if _strict_schema is not None:
        return _strict_schema(model)
    return model.model_json_schema()


def response_format_for(model: type[pydantic.BaseModel], mode: str) -> dict[str, Any] | None:
    """The ``response_format`` request parameter for ``mode`` (json_schema, json_object, none)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": model.__name__, "schema": json_schema_for(model), "strict": True},
        }
    if mode == "json_object":
        return {"type": "json_object"}
    return None


@dataclass
class ParsedAnswer:
    status: str  # ok | malformed | refused
    value: pydantic.BaseModel | None = None
    detail: str = ""


def parse_answer(
    model: type[pydantic.BaseModel], content: str | None, refusal: str | None = None, finish_reason: str | None = None
) -> ParsedAnswer:
    """Classify and parse one reply (see the module docstring)."""
    if refusal:
        return ParsedAnswer("refused", detail=f"refusal: {refusal[:200]}")
    if finish_reason == "content_filter":
        return ParsedAnswer("refused", detail="finish_reason=content_filter")
    if content is None or not content.strip():
        return ParsedAnswer("refused", detail="empty answer")
    if finish_reason == "length":
        return ParsedAnswer("malformed", detail="answer cut off at max_tokens (finish_reason=length)")
    text = content.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    try:
        data = json.loads(text)
    except ValueError as e:
        return ParsedAnswer("malformed", detail=f"not JSON: {e}")
    try:
        return ParsedAnswer("ok", value=model.model_validate(data))
    except pydantic.ValidationError as e:
        return ParsedAnswer("malformed", detail=f"does not fit {model.__name__}: {e.error_count()} error(s)")
