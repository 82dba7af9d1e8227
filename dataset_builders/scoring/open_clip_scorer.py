"""open_clip models as scorers: the paper's LAION-5B ``xlm-roberta-large-ViT-H-14`` and any other.

``OpenClipScorer.from_pretrained("xlm-roberta-large-ViT-H-14", "frozen_laion5b_s13b_b90k")`` builds the
paper's OpenCLIP (weights from the Hub cache); tests inject an already built model, its transform
and a tokenizer instead. :func:`register_open_clip_config` adds a model config dict to open_clip's
registry (open_clip only takes config *files*, so the dict goes through a temporary JSON file), which
is how the tiny test model is built through open_clip's own factory without downloading anything.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from dataset_builders.scoring.preprocess import CallableTransform, ImageTransform
from dataset_builders.scoring.scorer import BaseScorer

logger = logging.getLogger(__name__)


def register_open_clip_config(name: str, config: dict[str, Any]) -> str:
    """Make ``name`` a model open_clip can ``create_model`` (needs ``embed_dim``, ``vision_cfg``, ``text_cfg``)."""
    import open_clip

    missing = {"embed_dim", "vision_cfg", "text_cfg"} - set(config)
    if missing:
        raise ValueError(f"open_clip model config {name!r} lacks {sorted(missing)}")
    if open_clip.get_model_config(name) == config:
        return name
    with tempfile.TemporaryDirectory(prefix="ja-vila-open-clip-") as d:
        path = Path(d) / f"{name}.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        open_clip.add_model_config(path)  # reads the file now; the registry keeps the parsed dict
    if open_clip.get_model_config(name) != config:
        raise RuntimeError(f"open_clip did not register model config {name!r}")
    return name


class HFTokenizerAdapter:
    """A transformers tokenizer called like an open_clip tokenizer: ``texts -> LongTensor [B, context_length]``.

    Each row is ``<bos> ids… <eos>`` padded with the pad id (truncated so the eos always fits): the
    layout open_clip's text tower expects with ``pool_type="eos"``.
    """

    def __init__(self, tokenizer: Any, context_length: int = 77):
        if context_length < 3:
            raise ValueError(f"context_length must be >= 3, got {context_length}")
        self.tokenizer = tokenizer
        self.context_length = context_length
        self.bos_id = tokenizer.bos_token_id
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        if self.eos_id is None:
            raise ValueError("the tokenizer needs an eos token for eos pooling")

    def __call__(self, texts: str | Sequence[str]) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        out = torch.full((len(texts), self.context_length), self.pad_id, dtype=torch.long)
        head = [self.bos_id] if self.bos_id is not None else []
        room = self.context_length - len(head) - 1
        for i, ids in enumerate(encoded):
            row = head + list(ids[:room]) + [self.eos_id]
            out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out


class OpenClipScorer(BaseScorer):
    """A scorer over an open_clip ``CLIP``-style model (``encode_image`` / ``encode_text``)."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Callable[[list[str]], torch.Tensor],
        transform: ImageTransform | CallableTransform | Callable | None = None,
        name: str = "open_clip",
        **kwargs: Any,
    ):
        """``transform``: None derives the fast transform from the model's preprocess config; a plain
        callable (e.g. open_clip's eval transform) is run as is in the decode threads."""
        if transform is None:
            import open_clip

            transform = ImageTransform.from_open_clip(open_clip.get_model_preprocess_cfg(model))
        elif not isinstance(transform, ImageTransform | CallableTransform):
            transform = CallableTransform(transform)
        super().__init__(name=name, transform=transform, **kwargs)
        self.model = model.eval().to(self.device)
        self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        pretrained: str | None = None,
        model_cfg: dict[str, Any] | None = None,
        seed: int | None = None,
        tokenizer: Callable[[list[str]], torch.Tensor] | None = None,
        preprocess: str = "fast",
        cache_dir: str | None = None,
        **kwargs: Any,
    ) -> OpenClipScorer:
        """Build with ``open_clip.create_model_and_transforms(model, pretrained=...)``.

        ``preprocess``: ``"fast"`` / ``"exact"`` (:class:`ImageTransform`, exact = bit-identical to
        open_clip's transform) or ``"native"`` (open_clip's own transform callable).
        ``model_cfg`` registers ``model`` as a new architecture first (``pretrained`` may then be
        None: random weights, seeded by ``seed``). Weights come from open_clip's Hub cache; set
        ``HF_HUB_OFFLINE=1`` to forbid downloads.
        """
        import open_clip

        if model_cfg is not None:
            register_open_clip_config(model, model_cfg)
        if seed is not None:
            torch.manual_seed(seed)
        try:
            net, _, preprocess_val = open_clip.create_model_and_transforms(model, pretrained=pretrained, cache_dir=cache_dir)
        except RuntimeError as e:
            raise RuntimeError(
                f"open_clip could not build {model!r} with pretrained={pretrained!r}: {e}. "
                "Check the names with open_clip.list_pretrained(), or pre-download the weights."
            ) from e
        try:
            if preprocess == "native":
                raise ValueError("open_clip's own transform was requested")
            transform = ImageTransform.from_open_clip(open_clip.get_model_preprocess_cfg(net), fast=preprocess == "fast")
        except ValueError:
            transform = CallableTransform(preprocess_val)
        if tokenizer is None:
            if model_cfg is not None and "hf_tokenizer_name" not in model_cfg.get("text_cfg", {}):
                raise ValueError(f"open_clip model {model!r} built from a config dict needs tokenizer=...")
            tokenizer = open_clip.get_tokenizer(model, cache_dir=cache_dir)
        kwargs.setdefault("name", f"open_clip:{model}" + (f":{pretrained}" if pretrained else ""))
        return cls(net, tokenizer, transform=transform, **kwargs)

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer(texts).to(self.device))
