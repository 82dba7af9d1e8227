"""A weighted mixture of WebDataset sources as one ``torch`` ``IterableDataset`` of training rows.

Each next sample comes from source *i* with probability ``weight_i / sum(weights)`` (a seeded
``random.Random``, so the order is the same on every rank and on every restart — Trainer's
resume skips the already-trained batches of this very order). Samples are rendered
(:class:`~training.data.render.Renderer`), samples that cannot be used are dropped and counted
by reason (``dropped_too_long`` …), and rows are optionally packed. A source that gives no
trainable sample in a whole pass never will (rendering is deterministic): that is an error naming
the source and its drop reasons, not an endless loop.

Every rank iterates the same stream; Accelerate's ``IterableDatasetShard`` hands each rank its
slice of every global batch (``dispatch_batches=False``). Rows carry image *bytes*: only the rank
that trains on a row decodes its images (in the collator).
"""

from __future__ import annotations

import logging
import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from dataset_builders.errors import UserInputError
from training.data.packing import pack
from training.data.render import Rendered, Renderer, SkipSample
from training.data.shards import expand_shards, iter_samples

logger = logging.getLogger(__name__)

_WARN_AFTER = 1000  # dropped samples in a row at the start of a pass before a warning (the error needs a whole pass)


class NoTrainableData(UserInputError):
    """A source went through a whole pass without one sample the renderer could use."""


@dataclass(frozen=True)
class DataSource:
    """One dataset in the mixture: a folder / shard / glob / ``hf://`` URL and its sampling weight."""

    path: str
    weight: float = 1.0
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or os.path.basename(str(self.path).rstrip("/")) or str(self.path)

    @classmethod
    def parse(cls, spec: str) -> DataSource:
        """``PATH``, ``PATH@WEIGHT`` or ``NAME=PATH@WEIGHT`` (NAME: letters, digits, ``_`` and ``-``)."""
        m = re.match(r"^([A-Za-z0-9_\-]+)=(.+)$", spec)
        name, rest = (m.group(1), m.group(2)) if m else ("", spec)
        path, sep, weight = rest.rpartition("@")
        if not sep:
            path, weight = rest, "1"
        try:
            value = float(weight)
        except ValueError as e:
            raise UserInputError(f"data source {spec!r}: weight {weight!r} is not a number (use PATH@WEIGHT)") from e
        if value <= 0:
            raise UserInputError(f"data source {spec!r}: weight must be positive")
        return cls(path=path, weight=value, name=name)


class VilaStream(torch.utils.data.IterableDataset):
    """Rendered (optionally packed) rows from a weighted mixture of sources.

    Args:
        sources: the datasets and their weights.
        renderer: renders samples and enforces ``max_length``.
        packing: pack several samples per row (``position_ids`` restart per sample).
        seed: the mixture order's seed.
        repeat: cycle the sources forever (the run length is ``max_steps``); False gives one pass
            over every source (a source that runs out leaves the mixture).
    """

    def __init__(
        self,
        sources: list[DataSource],
        renderer: Renderer,
        packing: bool = False,
        seed: int = 0,
        repeat: bool = True,
        pack_buffer: int = 8,
    ):
        if not sources:
            raise UserInputError("no data sources given")
        self.sources = sources
        self.renderer = renderer
        self.packing = packing
        self.seed = seed
        self.repeat = repeat
        self.pack_buffer = pack_buffer
        self.shards = {s.label: expand_shards(s.path) for s in sources}
        self.stats: Counter[str] = Counter()

    def _source_iter(self, source: DataSource, counts: Counter[str]) -> Iterator[dict]:
        """Samples of ``source``, pass after pass; ``counts`` is this pass's ``kept`` / ``dropped_<reason>``
        (``samples()`` renders each sample and counts it before it asks for the next)."""
        epoch = 0
        while True:
            counts.clear()
            n = 0
            for sample in iter_samples(self.shards[source.label], counts):
                n += 1
                yield sample
            if not counts["kept"]:
                raise self._no_trainable(source, n, counts)
            if not self.repeat:
                return
            epoch += 1
            self.stats[f"epochs_{source.label}"] = epoch

    def _no_trainable(self, source: DataSource, n: int, counts: Counter[str]) -> NoTrainableData:
        reasons = ", ".join(f"{k.removeprefix('dropped_')} {v}" for k, v in sorted(counts.items())) or "none"
        return NoTrainableData(
            f"data source {source.label!r} ({source.path}): no trainable sample in a whole pass over its {n} "
            f"sample(s); dropped by reason: {reasons}. Fix the data or the settings (too_long: raise max_length "
            f"above {self.renderer.max_length}; unknown_schema: the shards are not pairs, interleaved or instruct "
            "samples), or leave the source out."
        )

    def samples(self) -> Iterator[Rendered]:
        """Rendered samples in mixture order (before packing)."""
        rng = random.Random(self.seed)
        passes = {s.label: Counter() for s in self.sources}
        active = [(s, self._source_iter(s, passes[s.label])) for s in self.sources]
        while active:
            i = rng.choices(range(len(active)), weights=[s.weight for s, _ in active])[0]
            source, it = active[i]
            counts = passes[source.label]
            sample = next(it, None)
            if sample is None:
                active.pop(i)
                continue
            self.stats[f"samples_{source.label}"] += 1
            try:
                row = self.renderer.render(sample)
            except SkipSample as e:
                self.stats[f"dropped_{e.reason}"] += 1
                counts[f"dropped_{e.reason}"] += 1
                logger.debug("dropped (%s): %s", e.reason, e)
                if not counts["kept"] and counts.total() == _WARN_AFTER:
                    logger.warning("data source %r: the first %d samples were all dropped (%s); still looking",
                                   source.label, _WARN_AFTER, dict(counts))
                continue
            self.stats["kept"] += 1
            counts["kept"] += 1
            self.stats["tokens"] += len(row)
            yield row

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        if info is not None and info.num_workers > 1:
            raise ValueError(
                "VilaStream is one ordered stream: use dataloader_num_workers 0 or 1 (image decoding runs in the "
                "collator, in that worker)"
            )
        rows = self.samples()
        if self.packing:
            rows = pack(rows, self.renderer.max_length, buffer_size=self.pack_buffer)
        for row in rows:
            self.stats["rows"] += 1
            yield row.as_dict()
