"""Tiny randomly initialised models built from configs, for the demo, ``type: tiny`` presets and tests (no downloads).

The real models are the same classes with other numbers:

- ``tiny_llava``: SigLIP vision tower + 2-layer GELU MLP projector + Llama decoder as a
  ``LlavaForConditionalGeneration`` — the LLM-jp-3 VILA architecture (``vision_feature_select_strategy
  ="full"``, ``vision_feature_layer=-1``, one image token per patch, no CLS token).
- ``tiny_clip``: a ``CLIPModel`` with image and text towers, for similarity scoring.

Both use the byte-level BPE tokenizer from :mod:`dataset_builders.tiny.tokenizer`, trained on the
embedded Japanese sample, so nothing is fetched from the Hub.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
    SiglipImageProcessor,
    SiglipVisionConfig,
)

from dataset_builders.tiny.tokenizer import IMAGE_TOKEN, build_tokenizer


@dataclass(frozen=True)
class TinyLlavaSpec:
    """Sizes of the tiny Llava; ``image_size // patch_size`` squared is the image-token count."""

    image_size: int = 28
    patch_size: int = 14
    vision_hidden: int = 32
    text_hidden: int = 64
    layers: int = 2
    heads: int = 4
    max_position_embeddings: int = 1024

    @property
    def image_tokens(self) -> int:
        return (self.image_size // self.patch_size) ** 2


def llava_config(tokenizer: PreTrainedTokenizerFast, spec: TinyLlavaSpec = TinyLlavaSpec()) -> LlavaConfig:
    vision = SiglipVisionConfig(
        hidden_size=spec.vision_hidden,
        intermediate_size=spec.vision_hidden * 2,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads // 2 or 1,
        image_size=spec.image_size,
        patch_size=spec.patch_size,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.text_hidden,
        intermediate_size=spec.text_hidden * 2,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=spec.image_tokens,
        projector_hidden_act="gelu",
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )


def tiny_llava(
    seed: int = 0, spec: TinyLlavaSpec = TinyLlavaSpec(), tokenizer: PreTrainedTokenizerFast | None = None
) -> tuple[LlavaForConditionalGeneration, LlavaProcessor]:
    """A randomly initialised (seeded) tiny LLM-jp-3 VILA-shaped Llava and its processor."""
    tokenizer = tokenizer or build_tokenizer()
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(llava_config(tokenizer, spec)).eval()
    image_processor = SiglipImageProcessor(
        size={"height": spec.image_size, "width": spec.image_size},
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=spec.patch_size,
        vision_feature_select_strategy="full",
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=0,
    )
    return model, processor


def tiny_clip(seed: int = 0, image_size: int = 32, tokenizer: PreTrainedTokenizerFast | None = None):
    """A randomly initialised (seeded) tiny CLIP, its image processor and tokenizer."""
    tokenizer = tokenizer or build_tokenizer()
    config = CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    return model, image_processor, tokenizer


def save_tiny_llava(path: str | os.PathLike, seed: int = 0, spec: TinyLlavaSpec = TinyLlavaSpec()) -> Path:
    """Write a tiny Llava folder that ``from_pretrained`` loads offline; returns the folder."""
    model, processor = tiny_llava(seed=seed, spec=spec)
    path = Path(path)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
