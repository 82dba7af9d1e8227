"""A weighted mixture of WebDataset sources as one ``torch`` ``IterableDataset`` of training rows.

Each next sample comes from source *i* with probability ``weight_i / sum(weights)`` (a seeded
``random.Random``, so the order is the same on every rank and on every restart). Samples are
rendered (:class:`~training.data.render.Renderer`), samples that cannot be used are dropped and
counted by source and reason (``dropped/<source>/too_long`` …), and rows are optionally packed.

A source that gives no trainable sample in a whole pass never will (rendering is deterministic):
that is an error naming the source and its drop reasons, not an endless loop (with ``repeat``) or a
silent gap in the mixture. When nothing at all is usable after ``give_up_after`` samples read, the
stream raises at once (seconds, not a whole pass), naming every source and its drop reasons.

The stream's position (:mod:`training.data.position`) is a ``state_dict``; a stream given one with
:meth:`VilaStream.load_state_dict` starts there, without reading what came before.

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
from training.data.packing import Packer
from training.data.position import SourcePosition, SourceReader, StreamSnapshots
from training.data.render import IGNORE_INDEX, Rendered, Renderer, SkipSample
from training.data.shards import expand_shards

logger = logging.getLogger(__name__)

_WARN_AFTER = 1000  # dropped samples in a row at the start of a pass before a warning (the error needs a whole pass)


class NoTrainableData(UserInputError):
    """A source went through a whole pass without one sample the renderer could use (or nothing at
    all was usable after ``give_up_after`` samples)."""


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
        pack_buffer: open rows the packer fills.
        give_up_after: samples read without a single trainable one before the stream raises.

    ``stats`` counts, per source: ``read``, ``dropped/<reason>``, ``truncated`` (documents cut at a
    sentence boundary), and for the rows handed out ``samples``, ``tokens``, ``label_tokens``,
    ``images`` — keys ``"<what>/<source>[/<reason>]"``; plus ``rows`` and ``row_tokens``.
    """

    def __init__(
        self,
        sources: list[DataSource],
        renderer: Renderer,
        packing: bool = False,
        seed: int = 0,
        repeat: bool = True,
        pack_buffer: int = 8,
        give_up_after: int = 1000,
    ):
        if not sources:
            raise UserInputError("no data sources given")
        labels = [s.label for s in sources]
        if len(set(labels)) != len(labels):
            raise UserInputError(f"two data sources share a name ({labels}); name them NAME=PATH")
        self.sources = sources
        self.renderer = renderer
        self.packing = packing
        self.seed = seed
        self.repeat = repeat
        self.pack_buffer = pack_buffer
        self.give_up_after = give_up_after
        self.shards = {s.label: expand_shards(s.path) for s in sources}
        self.stats: Counter[str] = Counter()
        self.snapshots: StreamSnapshots | None = None
        self._start: dict | None = None

    def load_state_dict(self, state: dict) -> None:
        """Start every later iteration at ``state`` (a snapshot of this stream's position)."""
        missing = set(self.shards) - set(state["readers"])
        if missing or state.get("seed") != self.seed or state.get("packing") != self.packing:
            raise UserInputError(
                f"the saved data position does not match this data (sources {sorted(missing) or 'same'}, seed "
                f"{state.get('seed')} vs {self.seed}, packing {state.get('packing')} vs {self.packing}): resume with "
                "the same --dataset_paths, --seed and --packing, or start a new output_dir"
            )
        self._start = state

    def describe(self, state: dict) -> str:
        """A one-line position: rows handed out, and where each source stands."""
        parts = [f"row {state['rows']}"]
        for label, reader in state["readers"].items():
            pos = SourcePosition(**{k: v for k, v in reader.items() if k != "read_in_pass"})
            parts.append(f"{label}: " + ("used up" if pos.done else pos.describe(len(self.shards[label]))))
        if state.get("packer"):
            parts.append(f"{len(state['packer']['open_rows'])} open packed rows")
        return "; ".join(parts)

    def samples(self) -> Iterator[Rendered]:
        """Rendered samples in mixture order (before packing), from the start position."""
        run = _Run(self)
        self.stats = run.stats
        return run.samples()

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        if info is not None and info.num_workers > 1:
            raise ValueError(
                "VilaStream is one ordered stream: use dataloader_num_workers 0 or 1 (image decoding runs in the "
                "collator, in that worker)"
            )
        run = _Run(self)
        self.stats = run.stats
        return run.rows()


_HINTS = {
    "too_long": "longer than max_length: raise --max_length, or use fewer image tokens per image",
    "image_count_mismatch": "the text's <image> count differs from the images: check the dataset builder",
    "no_labels": "nothing to learn after rendering (empty caption/answer)",
    "unknown_schema": "not a pairs, interleaved or instruct sample",
    "bad_json": "unreadable json member",
    "bad_conversation": "a turn without a known role or text",
}


class _Run:
    """One iteration of a :class:`VilaStream`, from its start position."""

    def __init__(self, stream: VilaStream):
        self.stream = stream
        self.rng = random.Random(stream.seed)
        self.readers = {s.label: SourceReader(stream.shards[s.label], stream.repeat) for s in stream.sources}
        self.weights = {s.label: s.weight for s in stream.sources}
        self.active = [s.label for s in stream.sources]
        self.pass_counts: dict[str, Counter[str]] = {label: Counter() for label in self.readers}
        self.packer = Packer(stream.renderer.max_length, stream.pack_buffer) if stream.packing else None
        self.stats: Counter[str] = Counter()
        self.rows_out = 0
        state = stream._start
        if state is not None:
            self.rng.setstate(state["rng"])
            for label, reader_state in state["readers"].items():
                if label in self.readers:
                    self.readers[label].load_state_dict(reader_state)
            self.active = [a for a in state["active"] if a in self.readers]
            self.pass_counts = {label: Counter(state["pass_counts"].get(label, {})) for label in self.readers}
            if self.packer is not None:
                self.packer.load_state_dict(state["packer"])
            self.stats = Counter(state["stats"])
            self.rows_out = state["rows"]

    def state_dict(self) -> dict:
        return {
            "rows": self.rows_out,
            "seed": self.stream.seed,
            "packing": self.stream.packing,
            "rng": self.rng.getstate(),
            "readers": {label: r.state_dict() for label, r in self.readers.items()},
            "active": list(self.active),
            "pass_counts": {label: dict(c) for label, c in self.pass_counts.items()},
            "packer": self.packer.state_dict() if self.packer is not None else None,
            "stats": dict(self.stats),
        }

    # -- samples ----------------------------------------------------------------------------------
    def _drops(self, counts: Counter[str]) -> str:
        drops = {k.split("/")[-1]: n for k, n in counts.items() if k.startswith("dropped/")}
        return ", ".join(f"{r} {n} ({_HINTS.get(r, r)})" for r, n in sorted(drops.items())) or "none"

    def _dead_source(self, label: str) -> NoTrainableData:
        source = next(s for s in self.stream.sources if s.label == label)
        counts = self.pass_counts[label]
        return NoTrainableData(
            f"data source {label!r} ({source.path}): no trainable sample in a whole pass over its "
            f"{counts['read']} sample(s); dropped by reason: {self._drops(counts)}. Fix the data or the settings "
            f"(max_length {self.stream.renderer.max_length}, {self.stream.renderer.image_seq_length} tokens per "
            "image), or leave the source out."
        )

    def _check_progress(self) -> None:
        kept = sum(n for k, n in self.stats.items() if k.startswith("kept/"))
        read = sum(n for k, n in self.stats.items() if k.startswith("read/"))
        if kept or read < self.stream.give_up_after:
            return
        lines = []
        for s in self.stream.sources:
            prefix = f"dropped/{s.label}/"
            counts = Counter({f"dropped/{k[len(prefix):]}": n for k, n in self.stats.items() if k.startswith(prefix)})
            lines.append(f"{s.label} ({s.path}): read {self.stats[f'read/{s.label}']}, dropped {self._drops(counts)}")
        raise NoTrainableData(
            f"no trainable sample in the data: {read} samples read, none usable (max_length "
            f"{self.stream.renderer.max_length}, {self.stream.renderer.image_seq_length} tokens per image):\n  "
            + "\n  ".join(lines)
        )

    def _count(self, label: str, key: str) -> None:
        self.stats[f"{key}/{label}"] += 1
        self.pass_counts[label][key] += 1

    def _drop(self, label: str, reason: str, message: str) -> None:
        self.stats[f"dropped/{label}/{reason}"] += 1
        self.pass_counts[label][f"dropped/{reason}"] += 1
        logger.debug("dropped (%s): %s", reason, message)
        counts = self.pass_counts[label]
        if not counts["kept"] and counts["read"] == _WARN_AFTER:
            logger.warning("data source %r: the first %d samples of this pass were all dropped (%s); still looking",
                           label, _WARN_AFTER, self._drops(counts))
        self._check_progress()

    def samples(self) -> Iterator[Rendered]:
        while self.active:
            i = self.rng.choices(range(len(self.active)), weights=[self.weights[a] for a in self.active])[0]
            label = self.active[i]
            reader = self.readers[label]
            epoch, unreadable = reader.position.epoch, None
            try:
                sample = reader.next()
            except SkipSample as e:  # read, but its members do not decode
                sample, unreadable = None, e
            if reader.position.epoch != epoch or reader.position.done:  # a whole pass ended
                if not self.pass_counts[label]["kept"]:
                    raise self._dead_source(label)
                self.stats[f"passes/{label}"] = reader.position.epoch + reader.position.done
                self.pass_counts[label] = Counter()
            if sample is None and unreadable is None:  # used up
                self.active.pop(i)
                continue
            self._count(label, "read")
            try:
                if unreadable is not None:
                    raise unreadable
                row = self.stream.renderer.render(sample)
            except SkipSample as e:
                self._drop(label, e.reason, str(e))
                continue
            self._count(label, "kept")
            self.stats[f"truncated/{label}"] += row.truncated
            row.source = label
            row.parts = [(label, len(row), sum(t != IGNORE_INDEX for t in row.labels), len(row.images))]
            yield row

    # -- rows -------------------------------------------------------------------------------------
    def _hand_out(self, row: Rendered) -> dict:
        self.rows_out += 1
        self.stats["rows"] += 1
        self.stats["row_tokens"] += len(row)
        for label, tokens, label_tokens, images in row.parts:
            self.stats[f"samples/{label}"] += 1
            self.stats[f"tokens/{label}"] += tokens
            self.stats[f"label_tokens/{label}"] += label_tokens
            self.stats[f"images/{label}"] += images
        if self.stream.snapshots is not None:
            self.stream.snapshots.after_row(self.rows_out, self.state_dict)
        return row.as_dict()

    def rows(self) -> Iterator[dict]:
        for row in self.samples():
            if self.packer is not None:
                row = self.packer.add(row)
                if row is None:
                    continue
            yield self._hand_out(row)
        if self.packer is not None:
            for row in self.packer.flush():
                yield self._hand_out(row)
        if self.stream.snapshots is not None:
            self.stream.snapshots.at_end(self.rows_out, self.state_dict)
