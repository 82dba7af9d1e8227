"""Answers from a vision-language model: our Llava checkpoints or any transformers
image-text-to-text model (a local folder or a Hub id), greedy, in batches.

Prompts are built per model (:mod:`eval.prompts`); batches are formed from prompts of similar
length (less padding) and padded on the left, and answers come back in the input order.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dataset_builders.errors import UserInputError
from eval.prompts import build_prompt, clean_answer, resolve_format
from eval.tasks.base import EvalItem, open_image

logger = logging.getLogger(__name__)


@dataclass
class GenerationSettings:
    """Decoding is greedy (``do_sample=False``, one beam); these are the knobs that remain."""

    batch_size: int = 8
    max_new_tokens: int | None = None  # None: the task's default
    prompt_format: str = "auto"
    device: str | None = None  # None: cuda when available, else cpu
    dtype: str = "auto"  # auto: bfloat16 on GPU, float32 on CPU

    def describe(self) -> dict[str, Any]:
        return {"do_sample": False, "num_beams": 1, "batch_size": self.batch_size,
                "max_new_tokens": self.max_new_tokens, "prompt_format": self.prompt_format}


def _torch_dtype(name: str, device: str):
    import torch

    if name == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return getattr(torch, name)
    except AttributeError:
        raise UserInputError(f"unknown dtype {name!r} (auto, float32, bfloat16, float16)") from None


def encode_kwargs(prompts: Sequence[str], tokenizer: Any) -> dict[str, Any]:
    """Tokenizer options for a batch: no second BOS when the chat template already wrote one."""
    bos = getattr(tokenizer, "bos_token", None)
    if bos and prompts and all(p.startswith(bos) for p in prompts):
        return {"add_special_tokens": False}
    return {}


class VLMRunner:
    """A loaded model + processor that answers :class:`EvalItem` s."""

    def __init__(self, model: str | Path, settings: GenerationSettings | None = None):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.settings = settings or GenerationSettings()
        self.model_id = str(model)
        device = self.settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.processor = AutoProcessor.from_pretrained(self.model_id)
            self.model = AutoModelForImageTextToText.from_pretrained(
                self.model_id, dtype=_torch_dtype(self.settings.dtype, device)).to(device).eval()
        except (OSError, ValueError) as e:
            raise UserInputError(f"cannot load {self.model_id} as an image-text-to-text model with its processor "
                             f"({e}); give a folder written by save_pretrained or a Hub model id") from e
        self.device = device
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.format = resolve_format(self.processor, self.settings.prompt_format)
        logger.info("loaded %s on %s (prompt format %s)", self.model_id, device, self.format)

    def prompt_for(self, item: EvalItem) -> str:
        return build_prompt(self.processor, item.prompt, self.format)

    def generate(self, items: Sequence[EvalItem], max_new_tokens: int, label: str = "") -> list[str]:
        """Greedy answers to ``items``, in order."""
        import torch

        prompts = [self.prompt_for(it) for it in items]
        order = sorted(range(len(items)), key=lambda i: len(prompts[i]), reverse=True)
        answers: list[str] = [""] * len(items)
        bs = max(1, self.settings.batch_size)
        t0 = time.monotonic()
        # one bar per task on stderr, advanced per item (hidden when stderr is not a terminal)
        bar = tqdm(total=len(items), desc=label or "generate", unit="item", file=sys.stderr, disable=None,
                   leave=True, dynamic_ncols=True)
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            images = [open_image(items[i].image) for i in idx]
            texts = [prompts[i] for i in idx]
            inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True,
                                    **encode_kwargs(texts, self.tokenizer))
            inputs = inputs.to(self.device)
            if "pixel_values" in inputs and self.model.dtype != torch.float32:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            with torch.inference_mode():
                out = self.model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=max_new_tokens,
                                          pad_token_id=self.tokenizer.pad_token_id)
            new = out[:, inputs["input_ids"].shape[1]:]
            for i, text in zip(idx, self.processor.batch_decode(new, skip_special_tokens=True), strict=True):
                answers[i] = clean_answer(text, self.format)
            bar.update(len(idx))
            logger.debug("%s: %d/%d answered (%.1fs)", label or self.model_id, min(start + bs, len(order)), len(order),
                         time.monotonic() - t0)
        bar.close()
        logger.info("%s: %d answers in %.1fs", label or self.model_id, len(order), time.monotonic() - t0)
        return answers
