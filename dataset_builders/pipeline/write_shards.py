"""The last step of a build: documents → samples → WebDataset shards, with every drop counted."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from dataset_builders.schema import DatasetSchema, InvalidSample
from dataset_builders.shard_writer import ShardWriter

logger = logging.getLogger(__name__)


class WriteShards(PipelineStep):
    """Turn each document into a sample with ``to_sample`` and write it with :class:`ShardWriter`.

    Counts ``total`` / ``forwarded`` / ``dropped_<reason>`` like a filter, so the write appears in
    the funnel; resumes like the writer (samples already committed by a killed run are skipped).
    """

    type = "💽 - WRITER"
    name = "write shards"

    def __init__(
        self,
        output_dir: str | os.PathLike,
        schema: DatasetSchema,
        to_sample: Callable[[Document], dict[str, Any]],
        max_samples: int = 1000,
        max_bytes: int = 512 * 1024**2,
    ):
        super().__init__()
        self.output_dir = str(output_dir)
        self.schema = schema
        self.to_sample = to_sample
        self.max_samples = max_samples
        self.max_bytes = max_bytes

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with ShardWriter(self.output_dir, self.schema, rank=rank, max_samples=self.max_samples, max_bytes=self.max_bytes) as writer:
            for doc in data or []:
                self.stat_update("total")
                try:
                    sample = self.to_sample(doc)
                except InvalidSample as e:
                    self.stat_update("dropped", f"dropped_{e.reason}")
                    continue
                except Exception as e:  # one bad record never ends a long job
                    logger.warning("document %s: cannot make a sample: %r", doc.id, e)
                    self.stat_update("dropped", "dropped_sample_error")
                    continue
                if writer.write(sample):
                    self.stat_update("forwarded")
                    yield doc
                else:
                    self.stat_update("dropped", f"dropped_{writer.last_drop_reason}")
