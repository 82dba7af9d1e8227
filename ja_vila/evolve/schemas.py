"""The structured answers the agents must give (strict pydantic models, see ``llm.structured``)."""

from __future__ import annotations

import pydantic


class ProposedTask(pydantic.BaseModel):
    name: str
    instruction: str


class TaskProposal(pydantic.BaseModel):
    """Proposer (and refiner) answer: new tasks, each a name and an instruction."""

    tasks: list[ProposedTask]


class TaskSelection(pydantic.BaseModel):
    """Multi-agent: the proposer picks the final tasks from the refined list (0-based indices)."""

    selected: list[int]


class Annotation(pydantic.BaseModel):
    """Annotator answer for one task and one image: the concrete instruction and its answer."""

    instruction: str
    answer: str


class DetailedCaption(pydantic.BaseModel):
    caption: str


class QAPair(pydantic.BaseModel):
    question: str
    answer: str


class QAPairs(pydantic.BaseModel):
    pairs: list[QAPair]


class EvolvedQuestion(pydantic.BaseModel):
    """One question evolved into an easier and a harder variant, each with its answer."""

    easier: QAPair
    harder: QAPair
