"""Pack several rendered samples into one row of at most ``max_length`` tokens.

Rows keep the samples whole (a sample is never split, so image tokens stay with their image) and
record each sample's length; the collator turns those into ``position_ids`` that restart at 0 per
sample and drops the attention mask, which transformers 5 reads as separate sequences (DESIGN §4:
logits equal to separate runs). The first token of every sample (BOS or an image token) carries
no label, so no sample learns to predict the next one.

Packing is a streaming best fit over a small buffer of open rows (TRL's ``packing_strategy="bfd"``
on a stream: each sample goes to the open row it fills best; when the buffer overflows, the fullest
row leaves). It is deterministic for a given input order, and its open rows are part of the data
position saved with a checkpoint (:meth:`Packer.state_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from training.data.render import IGNORE_INDEX, Rendered


def merge(items: list[Rendered]) -> Rendered:
    """One packed row of ``items``, in order."""
    ids: list[int] = []
    labels: list[int] = []
    images: list[bytes] = []
    lengths: list[int] = []
    parts: list[tuple[str, int, int, int]] = []
    for item in items:
        ids.extend(item.input_ids)
        labels.append(IGNORE_INDEX)  # never predict across the boundary from the previous sample
        labels.extend(item.labels[1:])
        images.extend(item.images)
        lengths.append(len(item.input_ids))
        parts.extend(item.parts)
    return Rendered(ids, labels, images, key="+".join(i.key for i in items), kind="packed", seq_lengths=lengths,
                    parts=parts)


class Packer:
    """Best fit of whole samples into ``buffer_size`` open rows of at most ``max_length`` tokens."""

    def __init__(self, max_length: int, buffer_size: int = 8):
        self.max_length = max_length
        self.buffer_size = buffer_size
        self.open_rows: list[list[Rendered]] = []

    def add(self, row: Rendered) -> Rendered | None:
        """Place ``row``; returns the packed row that leaves the buffer, if one does."""
        n = len(row)
        used = [sum(len(r) for r in open_row) for open_row in self.open_rows]
        fits = [i for i, u in enumerate(used) if u + n <= self.max_length]
        if fits:
            best = max(fits, key=lambda i: used[i])  # the least room left after adding
            self.open_rows[best].append(row)
            used[best] += n
        else:
            self.open_rows.append([row])
            used.append(n)
        if len(self.open_rows) > self.buffer_size:
            fullest = max(range(len(used)), key=lambda j: used[j])
            return merge(self.open_rows.pop(fullest))
        return None

    def flush(self) -> Iterator[Rendered]:
        """The rows still open, oldest first (at the end of the data)."""
        while self.open_rows:
            yield merge(self.open_rows.pop(0))

    def state_dict(self) -> dict[str, Any]:
        return {"open_rows": [[r.__dict__.copy() for r in row] for row in self.open_rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.open_rows = [[Rendered(**r) for r in row] for row in state["open_rows"]]


def pack(rows: Iterable[Rendered], max_length: int, buffer_size: int = 8) -> Iterator[Rendered]:
    """Yield packed rows of ``rows`` (see :class:`Packer`)."""
    packer = Packer(max_length, buffer_size)
    for row in rows:
        out = packer.add(row)
        if out is not None:
            yield out
    yield from packer.flush()
