"""Where the data stream stands, so that a resume starts there instead of replaying the stream.

A source's position is ``(epoch, shard, offset)``: ``offset`` samples of shard ``shard`` were read
in pass ``epoch``. :class:`SourceReader` reads on from a position; reopening costs one shard's
worth of tar reading at most (the skipped samples are read, never decoded or tokenised), whatever
the number of steps already trained.

The stream's whole position (every source, the mixture's RNG, the packer's open rows, the counters)
is written by :class:`StreamSnapshots` at the optimizer steps where a checkpoint will be saved —
from inside the stream, because with a dataloader worker the stream runs in another process, ahead
of training. The trainer moves the snapshot of step N into ``checkpoint-N/`` (see ``training.train``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from dataset_builders.atomic import atomic_write_bytes
from training.data.render import SkipSample
from training.data.shards import decode_members, iter_shard

logger = logging.getLogger(__name__)

STATE_FILE = "vila_stream_state.pt"


@dataclass
class SourcePosition:
    """Pass ``epoch`` of a source, ``offset`` samples into its shard number ``shard``."""

    epoch: int = 0
    shard: int = 0
    offset: int = 0
    done: bool = False

    def describe(self, n_shards: int) -> str:
        return f"pass {self.epoch + 1}, shard {self.shard + 1}/{n_shards}, sample {self.offset}"


class SourceReader:
    """Samples of one source from a :class:`SourcePosition` on; cycles when ``repeat``."""

    def __init__(self, shards: list[str], repeat: bool, position: SourcePosition | None = None):
        self.shards = shards
        self.repeat = repeat
        self.position = position or SourcePosition()
        self._samples: Iterator[dict[str, Any]] | None = None
        self.read_in_pass = 0

    def next(self) -> dict[str, Any] | None:
        """The next sample (members decoded), or None when the source is used up. A sample with a
        bad ``json`` member raises :class:`SkipSample` (``bad_json``)."""
        pos = self.position
        while not pos.done:
            if self._samples is None:
                self._samples = iter_shard(self.shards[pos.shard], skip=pos.offset)
            sample = next(self._samples, None)
            if sample is not None:
                pos.offset += 1
                self.read_in_pass += 1
                try:
                    return decode_members(sample)
                except ValueError as e:
                    raise SkipSample("bad_json", str(e)) from e
            self._samples = None
            pos.shard, pos.offset = pos.shard + 1, 0
            if pos.shard == len(self.shards):
                if not self.repeat or self.read_in_pass == 0:
                    pos.done = True
                else:
                    pos.epoch, pos.shard, self.read_in_pass = pos.epoch + 1, 0, 0
        return None

    def state_dict(self) -> dict[str, Any]:
        return {**asdict(self.position), "read_in_pass": self.read_in_pass}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.read_in_pass = state.pop("read_in_pass", 0)
        self.position = SourcePosition(**state)
        self._samples = None


def save_state(path: str | Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_state(path: str | Path) -> dict[str, Any]:
    return torch.load(path, weights_only=True)


class StreamSnapshots:
    """Write the stream's state after the last row of every optimizer step ``step`` where
    ``save_at(step)`` holds, as ``directory/step-{step}.pt``.

    Args:
        directory: where the snapshots go (the trainer moves them into its checkpoints).
        rows_per_step: rows one optimizer step takes from the stream (per-device batch ×
            gradient accumulation × processes: every rank reads the whole stream).
        save_at: which steps get a snapshot (the checkpoint steps and the last step).
        enabled: False on all but the first process (every rank's stream is the same).
    """

    def __init__(self, directory: str | Path, rows_per_step: int, save_at: Callable[[int], bool], enabled: bool = True):
        self.directory = Path(directory)
        self.rows_per_step = rows_per_step
        self.save_at = save_at
        self.enabled = enabled

    def path(self, step: int) -> Path:
        return self.directory / f"step-{step}.pt"

    def after_row(self, rows: int, state: Callable[[], dict[str, Any]]) -> None:
        """Called with the number of rows handed out so far, before the last one is handed out."""
        if not self.enabled or rows % self.rows_per_step:
            return
        step = rows // self.rows_per_step
        if self.save_at(step):
            save_state(self.path(step), {**state(), "step": step})

    def at_end(self, rows: int, state: Callable[[], dict[str, Any]]) -> None:
        """Called when the data is used up (``repeat_data`` false): the counters of everything handed out."""
        if self.enabled:
            save_state(self.directory / "step-end.pt", {**state(), "step": None})
