"""Pack several rendered samples into one row of at most ``max_length`` tokens.

Rows keep the samples whole (a sample is never split) and record each sample's length; the
collator turns those into ``position_ids`` that restart at 0 per sample and drops the attention
mask, which transformers 5 reads as separate sequences (DESIGN §4: logits equal to separate runs).
The first token of every sample (BOS or an image token) carries no label, so no sample learns to
predict the next one.

Packing is a streaming first-fit over a small buffer: deterministic for a given input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from training.data.render import IGNORE_INDEX, Rendered


def _merge(items: list[Rendered]) -> Rendered:
    ids: list[int] = []
    labels: list[int] = []
    images: list[bytes] = []
    lengths: list[int] = []
    for item in items:
        ids.extend(item.input_ids)
        labels.append(IGNORE_INDEX)  # never predict across the boundary from the previous sample
        labels.extend(item.labels[1:])
        images.extend(item.images)
        lengths.append(len(item.input_ids))
    return Rendered(ids, labels, images, key="+".join(i.key for i in items), kind="packed", seq_lengths=lengths)


def pack(rows: Iterable[Rendered], max_length: int, buffer_size: int = 8) -> Iterator[Rendered]:
    """Yield packed rows; ``buffer_size`` open rows are filled first-fit, the fullest leaves first."""
    open_rows: list[list[Rendered]] = []
    used: list[int] = []
    for row in rows:
        n = len(row)
        for i, room in enumerate(used):
            if room + n <= max_length:
                open_rows[i].append(row)
                used[i] += n
                break
        else:
            open_rows.append([row])
            used.append(n)
        if len(open_rows) > buffer_size:
            fullest = max(range(len(used)), key=lambda j: used[j])
            yield _merge(open_rows.pop(fullest))
            used.pop(fullest)
    while open_rows:
        yield _merge(open_rows.pop(0))
        used.pop(0)
