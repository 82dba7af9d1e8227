"""Batch rendered rows: decode images, pad, and give every rank a vision-tower pass.

Unpacked rows are right-padded with an attention mask. Packed rows (several ``seq_lengths``)
get ``position_ids`` restarting at 0 per sample and no attention mask — transformers then
attends within each sample only (only without a KV cache, so every batch carries ``use_cache=False``).
Padding of packed rows is its own trailing "sample". With ``padding_free`` (TRL's option) the
micro-batch's rows are concatenated into one row the same way: no padding at all.

A micro-batch without any image still runs the vision tower (DESIGN §4: DeepSpeed ZeRO-3 hangs
when one rank skips a module the others gather): one dummy black image is added, with its image
tokens appended as unlabelled, unattended padding after the first row.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from training.data.render import IGNORE_INDEX


def decode_image(data: bytes | Image.Image) -> Image.Image:
    if isinstance(data, Image.Image):
        return data.convert("RGB")
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def _concatenate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One row holding ``rows`` one after the other; each keeps its own sample lengths."""
    out: dict[str, Any] = {"input_ids": [], "labels": [], "images": [], "seq_lengths": []}
    for r in rows:
        out["input_ids"].extend(r["input_ids"])
        out["labels"].extend([IGNORE_INDEX, *list(r["labels"])[1:]])  # never predict across rows
        out["images"].extend(r["images"])
        out["seq_lengths"].extend(r.get("seq_lengths") or [len(r["input_ids"])])
    return out


@dataclass
class VilaCollator:
    """Collate rows of :class:`~training.data.mixture.VilaStream` into model inputs.

    Args:
        image_processor: the processor's image processor (SigLIP: resize to 384, normalise).
        pad_token_id: id used for padding.
        image_token_id: the ``<image>`` id (for the dummy-image padding).
        image_seq_length: image tokens per image.
        pad_to_multiple_of: pad the row length up to a multiple (tensor-core friendly on GPUs).
        padding_free: concatenate the micro-batch into one row (``position_ids`` restart per sample).
    """

    image_processor: Any
    pad_token_id: int
    image_token_id: int
    image_seq_length: int
    pad_to_multiple_of: int | None = None
    padding_free: bool = False

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if self.padding_free and len(rows) > 1:
            rows = [_concatenate(rows)]
        packed = any(len(r.get("seq_lengths") or []) > 1 for r in rows)
        ids = [list(r["input_ids"]) for r in rows]
        labels = [list(r["labels"]) for r in rows]
        lengths = [list(r.get("seq_lengths") or [len(r["input_ids"])]) for r in rows]
        images = [decode_image(im) for r in rows for im in r["images"]]
        dummy = not images
        if dummy:  # the vision tower must run on every rank, every micro-batch
            images = [Image.new("RGB", (8, 8))]
            ids[0] = ids[0] + [self.image_token_id] * self.image_seq_length
            labels[0] = labels[0] + [IGNORE_INDEX] * self.image_seq_length
            lengths[0] = lengths[0] + [self.image_seq_length]
        width = max(len(x) for x in ids)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        label_t = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        position_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for b, (row_ids, row_labels, row_lengths) in enumerate(zip(ids, labels, lengths, strict=True)):
            n = len(row_ids)
            input_ids[b, :n] = torch.tensor(row_ids)
            label_t[b, :n] = torch.tensor(row_labels)
            attention[b, :n] = 1
            if dummy and b == 0:
                attention[b, n - self.image_seq_length : n] = 0
            start = 0
            for length in [*row_lengths, width - n] if width > n else row_lengths:
                position_ids[b, start : start + length] = torch.arange(length)
                start += length
        batch = {
            "input_ids": input_ids,
            "labels": label_t,
            "pixel_values": self.image_processor(images=images, return_tensors="pt")["pixel_values"],
            # training needs no KV cache, and transformers only splits packed rows without one (masking_utils)
            "use_cache": False,
        }
        if packed:
            batch["position_ids"] = position_ids
        else:
            batch["attention_mask"] = attention
        return batch
