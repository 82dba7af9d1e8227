"""Finishing a dataset folder: merge the tasks' counts into ``stats.json`` and write the card.

Layout of a finished folder::

    README.md        dataset card (YAML: configs + dataset_info.features; body: schema, funnel)
    stats.json       funnel (every stage, every drop reason) and totals, merged over tasks
    data/*.tar       WebDataset shards, {split}-{rank}-{index}.tar
    stats/*.json     per-task counts the merge is made from
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Protocol

from dataset_builders.atomic import atomic_write_json, atomic_write_text
from dataset_builders.funnel import Funnel
from dataset_builders.schema import DatasetSchema
from dataset_builders.shard_writer import DATA_DIR, RANK_STATS_DIR

logger = logging.getLogger(__name__)

WRITE_STAGE = "write_shards"


class DatasetCardRenderer(Protocol):
    """What :func:`finalize_dataset` needs to write ``README.md``: the card's text from the counts.

    ``model_cards.dataset_card.DatasetCardInfo`` is one; this core module only sees the protocol, so
    cards (a builder-layer concern) can depend on the folder layout and not the other way round.
    """

    def render(self, schema: DatasetSchema, funnel: Funnel, n_samples: int, n_shards: int) -> str: ...


def merge_rank_stats(output_dir: str | os.PathLike) -> tuple[Funnel, dict[str, Any]]:
    """Sum every task's ``stats/*.json``: each file's ``funnel`` stages, then its writer counts."""
    funnel, writer = Funnel(), Funnel()
    files = sorted((Path(output_dir) / RANK_STATS_DIR).glob("*.json"))
    for f in files:
        rank = json.loads(f.read_text(encoding="utf-8"))
        funnel = funnel + Funnel.from_list(rank.get("funnel", []))
        writer.add_counts(WRITE_STAGE, rank["counts"])
    return funnel + writer, {"tasks": len(files)}


def finalize_dataset(
    output_dir: str | os.PathLike,
    schema: DatasetSchema,
    card: DatasetCardRenderer,
    funnel: Funnel | None = None,
    extra_stats: dict | None = None,
) -> dict[str, Any]:
    """Write ``stats.json`` and ``README.md`` for the shards under ``output_dir``; returns the stats.

    ``card`` renders README.md (a ``DatasetCardInfo``); ``funnel`` is the whole build's (every
    stage); without it the writers' own counts are used.
    """
    output_dir = Path(output_dir)
    writer_funnel, meta = merge_rank_stats(output_dir)
    n_samples = writer_funnel.stage(WRITE_STAGE).kept
    funnel = funnel if funnel is not None else writer_funnel
    shards = sorted(p.name for p in (output_dir / DATA_DIR).glob("*.tar"))
    problems = funnel.problems()
    if problems:
        logger.error("funnel does not add up: %s", "; ".join(problems))
    stats = {
        "schema": schema.name,
        "samples": n_samples,
        "shards": len(shards),
        "tasks": meta["tasks"],
        "funnel": funnel.to_list(),
        **(extra_stats or {}),
    }
    atomic_write_json(output_dir / "stats.json", stats)
    atomic_write_text(output_dir / "README.md", card.render(schema, funnel, n_samples=n_samples, n_shards=len(shards)))
    logger.info("%s: %d samples in %d shards\n%s", output_dir, n_samples, len(shards), funnel.to_markdown())
    return stats
