"""Adapters from public source datasets to the project's three shard schemas.

Each adapter is a generator of samples in one schema (``pairs``, ``interleaved`` or ``instruct``)
read from the source's own documented layout; :func:`write_samples` writes them as WebDataset
shards (validated, resumable) that the training stream reads.

============================  ===========  =================================================
source                        schema       input
============================  ===========  =================================================
LLaVA-Pretrain (558K / JA)    pairs        ``blip_laion_cc_sbu_558k.json`` + image folder
LLaVA-Instruct (150K / JA)    instruct     ``llava_instruct_150k.json`` + image folder
mmc4-core                     interleaved  ``docs_shard_*.jsonl`` + downloaded image folder
COYO-700M (img2dataset)       pairs        img2dataset ``files`` output (``*.jpg/txt/json``)
JA-VG-VQA                     instruct     ``question_answers.json`` + Visual Genome images
synthdog-ja                   instruct     HF rows / parquet (``image``, ``ground_truth``)
============================  ===========  =================================================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dataset_builders.schema import SCHEMAS
from dataset_builders.shard_writer import ShardWriter
from training.sources.coyo import coyo_pairs
from training.sources.ja_vg_vqa import ja_vg_vqa
from training.sources.llava import llava_instruct, llava_pretrain
from training.sources.mmc4 import mmc4_documents
from training.sources.synthdog import synthdog_ja

logger = logging.getLogger(__name__)

ADAPTERS = {
    "llava-pretrain": ("pairs", llava_pretrain),
    "llava-instruct": ("instruct", llava_instruct),
    "mmc4-core": ("interleaved", mmc4_documents),
    "coyo": ("pairs", coyo_pairs),
    "ja-vg-vqa": ("instruct", ja_vg_vqa),
    "synthdog-ja": ("instruct", synthdog_ja),
}


def write_samples(samples: Iterable[dict[str, Any]], out: str | os.PathLike, schema: str, max_samples: int = 1000) -> dict:
    """Write ``samples`` of ``schema`` as shards under ``out``; returns the writer's counts."""
    with ShardWriter(Path(out), SCHEMAS[schema], max_samples=max_samples) as writer:
        for sample in samples:
            writer.write(sample)
        counts = dict(writer.counts)
    return counts


__all__ = ["ADAPTERS", "coyo_pairs", "ja_vg_vqa", "llava_instruct", "llava_pretrain", "mmc4_documents",
           "synthdog_ja", "write_samples"]
