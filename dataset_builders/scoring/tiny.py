"""Tiny, randomly initialised (seeded) scorers for tests, the demo and benchmarks — nothing downloaded.

- :func:`tiny_clip_scorer`: the transformers ``CLIPModel`` from :func:`dataset_builders.tiny.models.tiny_clip`.
- :func:`tiny_open_clip`: an open_clip ``CLIP`` built by open_clip's own factory from a registered
  config dict, with the project's byte-level BPE tokenizer through :class:`HFTokenizerAdapter`.

Random weights give meaningless similarities (not even reliably positive): use these to test
plumbing, never to judge data.
"""

from __future__ import annotations

from typing import Any

from dataset_builders.scoring.hf_scorer import TransformersScorer
from dataset_builders.scoring.open_clip_scorer import (
    HFTokenizerAdapter,
    OpenClipScorer,
    register_open_clip_config,
)

TINY_OPEN_CLIP = "ja-vila-tiny-open-clip"


def tiny_open_clip_config(vocab_size: int, eos_id: int, pad_id: int, image_size: int = 32, context_length: int = 32) -> dict:
    return {
        "embed_dim": 16,
        "vision_cfg": {"image_size": image_size, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {
            "context_length": context_length,
            "vocab_size": vocab_size,
            "width": 32,
            "heads": 2,
            "layers": 2,
            "pool_type": "eos",
            "eos_id": eos_id,
            "pad_id": pad_id,
        },
    }


def tiny_open_clip(seed: int = 0, image_size: int = 32):
    """``(model, eval transform, tokenizer)`` of a tiny open_clip CLIP, built via ``create_model_and_transforms``."""
    import open_clip
    import torch

    from dataset_builders.tiny.tokenizer import build_tokenizer

    tok = build_tokenizer()
    name = f"{TINY_OPEN_CLIP}-{image_size}"
    register_open_clip_config(
        name, tiny_open_clip_config(len(tok), tok.eos_token_id, tok.pad_token_id, image_size=image_size)
    )
    torch.manual_seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    return model.eval(), preprocess, HFTokenizerAdapter(tok, context_length=32)


def tiny_open_clip_scorer(seed: int = 0, image_size: int = 32, name: str | None = None, **kwargs: Any) -> OpenClipScorer:
    model, _, tokenizer = tiny_open_clip(seed=seed, image_size=image_size)
    return OpenClipScorer(model, tokenizer, name=name or f"tiny_open_clip:{seed}", **kwargs)


def tiny_clip_scorer(seed: int = 0, image_size: int = 32, name: str | None = None, **kwargs: Any) -> TransformersScorer:
    from dataset_builders.tiny.models import tiny_clip

    model, processor, tokenizer = tiny_clip(seed=seed, image_size=image_size)
    return TransformersScorer(model, processor, tokenizer, name=name or f"tiny:{seed}", **kwargs)
