"""A generation's dataset: instruct samples with lineage, written with the project's shard writer
and finished with its card (``finalize_dataset``), so ``datasets.load_dataset(folder)`` reads it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import List, Value

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.schema import INSTRUCT, Field
from dataset_builders.shard_writer import ShardWriter
from model_cards.dataset_card import DatasetCardInfo

#: INSTRUCT plus lineage: which generation, which task, which failures (or parent samples) inspired it.
EVOLVE_SCHEMA = INSTRUCT.with_json_fields(
    generation=Field(Value("int32"), "evolution generation that produced the sample"),
    task_name=Field(Value("string"), "name of the proposed task the sample belongs to"),
    inspired_by=Field(List(Value("string")), "failures or parent samples that inspired the task"),
    image_id=Field(Value("string"), "id of the image the sample is about"),
    agreement=Field(Value("float32"), "share of the self-consistency answers that agreed with the kept answer"),
)


@dataclass
class GeneratedSample:
    image_id: str
    image: bytes
    instruction: str
    answer: str
    generation: int
    task_name: str
    inspired_by: list[str] = field(default_factory=list)
    agreement: float = 1.0

    @property
    def key(self) -> str:
        raw = f"{self.generation}|{self.task_name}|{self.image_id}|{self.instruction}"
        return f"g{self.generation:02d}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:16]}"

    def to_sample(self) -> dict[str, Any]:
        return {
            "__key__": self.key,
            "jpg": self.image,
            "json": {
                "conversations": [{"role": "user", "content": f"<image>\n{self.instruction}"},
                                  {"role": "assistant", "content": self.answer}],
                "task": self.task_name,
                "source": "evolve",
                "generation": self.generation,
                "task_name": self.task_name,
                "inspired_by": list(self.inspired_by),
                "image_id": self.image_id,
                "agreement": float(self.agreement),
            },
        }


def write_generation_dataset(folder: Path, samples: list[GeneratedSample], generation: int, mode: str,
                             max_samples: int = 1000, extra_stats: dict | None = None) -> dict[str, Any]:
    """Shards + stats.json + README.md for ``samples`` under ``folder``; returns the stats."""
    with ShardWriter(folder, EVOLVE_SCHEMA, max_samples=max_samples, on_invalid="drop") as writer:
        for s in samples:
            writer.write(s.to_sample())
    info = DatasetCardInfo(
        pretty_name=f"ja-vila evolve ({mode}) generation {generation}",
        description=(f"Instruction data generated in generation {generation} of `ja-vila evolve` ({mode} mode). "
                     "Every sample records its generation, its task and the ids that inspired it "
                     "(validation failures in task modes, parent samples in QA mode)."),
        sources=["ja-vila evolve"],
    )
    return finalize_dataset(folder, EVOLVE_SCHEMA, info, extra_stats=extra_stats)


