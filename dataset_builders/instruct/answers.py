"""The shapes the LLM must answer in (pydantic models, sent as JSON schemas).

Validators reject what a JSON schema cannot: blank text, answers with no Japanese at all, and
``<image>`` placeholders the model may echo back (they would break training templates). A reply
that fails them counts as ``malformed`` and is asked again.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, field_validator

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def _japanese_text(value: str) -> str:
    value = value.replace("<image>", "").strip()
    if not value:
        raise ValueError("empty text")
    if not _JAPANESE.search(value):
        raise ValueError("text is not Japanese")
    return value


class QA(BaseModel):
    model_config = ConfigDict(extra="ignore")
    question: str
    answer: str

    @field_validator("question", "answer")
    @classmethod
    def _japanese(cls, v: str) -> str:
        return _japanese_text(v)


class Conversation(BaseModel):
    """A multi-turn conversation about a COCO image (LLaVA ``conversation``)."""

    turns: list[QA]

    @field_validator("turns")
    @classmethod
    def _non_empty(cls, v: list[QA]) -> list[QA]:
        if not v:
            raise ValueError("a conversation needs at least one turn")
        return v


class PhotoConversation(Conversation):
    """A multi-turn conversation about a photo the model sees (Japanese-photos-conv)."""


class DetailedDescription(BaseModel):
    """A detailed description of a COCO image (LLaVA ``detail``)."""

    description: str

    @field_validator("description")
    @classmethod
    def _japanese(cls, v: str) -> str:
        return _japanese_text(v)


class ComplexReasoning(QA):
    """One question that needs reasoning beyond the visible content, with a detailed answer."""
