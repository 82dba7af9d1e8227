"""One structured LLM call (messages + the pydantic model of the answer) and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pydantic

from dataset_builders.llm.cache import request_key
from dataset_builders.llm.config import LLMConfig
from dataset_builders.llm.messages import Message
from dataset_builders.llm.structured import json_schema_for

#: Final states of a call. ``ok`` carries a value; the others are counted by ``reason``.
STATUSES = ("ok", "malformed", "refused", "budget_exhausted", "failed")


@dataclass
class LLMRequest:
    """Messages to send and the model the answer must fit.

    ``label`` is a short, non-secret name (``coco:000000296284:conversation``) used in logs and
    stored beside the cached answer; it is not part of the cache key. ``run`` numbers repeats of the
    same request (a judge asked 5 times, as the paper averages 5 judge runs): each run is its own
    cache entry, so a re-run reuses every answer and a repeat is never served run 0's answer.
    """

    messages: list[Message]
    schema: type[pydantic.BaseModel]
    label: str = ""
    run: int = 0

    def key_material(self, config: LLMConfig) -> dict[str, Any]:
        repeat = {"run": self.run} if self.run else {}  # run 0 keeps the key it always had
        return {
            **repeat,
            "model": config.model,
            "messages": [m.to_key() for m in self.messages],
            "params": {
                "temperature": config.temperature,
                "max_tokens": config.max_tokens,
                "seed": config.seed,
                "response_format": config.response_format,
            },
            "schema": {"name": self.schema.__name__, "json_schema": json_schema_for(self.schema)},
        }

    def cache_key(self, config: LLMConfig) -> str:
        return request_key(self.key_material(config))


@dataclass
class LLMResult:
    """How a call ended. ``reason`` names a failure (``malformed``, ``refused``, ``timeout``,
    ``rate_limited``, ``server_error``, ``http_401``, ``budget_exhausted``, ...)."""

    status: str
    label: str = ""
    value: pydantic.BaseModel | None = None
    reason: str | None = None
    cached: bool = False
    detail: str = ""
    usage: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
