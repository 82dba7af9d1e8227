"""transformers models with ``get_image_features`` / ``get_text_features`` as scorers.

Covers ``CLIPModel`` (the tiny test CLIP included) and the paper's Japanese CLIP,
``line-corporation/clip-japanese-base``, whose modelling code lives in its repository and therefore
needs ``trust_remote_code=True`` — only ever set when the config says so. The feature methods may
return a tensor (older / remote code) or an output object (transformers 5: ``.pooler_output``);
both are accepted.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import torch

from dataset_builders.errors import UserInputError
from dataset_builders.scoring.preprocess import CallableTransform, ImageTransform, hf_processor_callable
from dataset_builders.scoring.scorer import BaseScorer

logger = logging.getLogger(__name__)


def _features(out: Any, kind: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    for attr in (f"{kind}_embeds", "pooler_output"):
        value = getattr(out, attr, None)
        if isinstance(value, torch.Tensor):
            return value
    if isinstance(out, tuple | list) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    raise TypeError(f"get_{kind}_features returned {type(out).__name__}; expected a tensor or .pooler_output")


class TransformersScorer(BaseScorer):
    """A scorer over a transformers model + image processor + tokenizer."""

    def __init__(
        self,
        model: torch.nn.Module,
        image_processor: Any,
        tokenizer: Any,
        name: str = "transformers",
        max_text_length: int | None = None,
        preprocess: str = "fast",
        **kwargs: Any,
    ):
        """``preprocess``: ``"fast"`` / ``"exact"`` use the batched :class:`ImageTransform` equivalent of
        the processor (CLIP-style resize + crop + normalise; see :mod:`..preprocess`), falling back to the
        processor itself when it has none; ``"processor"`` always calls the model's own processor."""
        if preprocess not in ("fast", "exact", "processor"):
            raise UserInputError(f"preprocess must be fast, exact or processor; got {preprocess!r}")
        transform: ImageTransform | CallableTransform
        try:
            if preprocess == "processor":
                raise ValueError("the model's own processor was requested")
            transform = ImageTransform.from_hf_processor(image_processor, fast=preprocess == "fast")
        except (ValueError, AttributeError, KeyError, TypeError) as e:
            logger.info("%s: using the model's own image processor (%s)", name, e)
            transform = CallableTransform(hf_processor_callable(image_processor))
        super().__init__(name=name, transform=transform, **kwargs)
        self.model = model.eval().to(self.device)
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.max_text_length = max_text_length or self._default_max_length()
        params = inspect.signature(self.model.get_text_features).parameters
        self._text_keys = {k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD}

    def _default_max_length(self) -> int:
        config = getattr(self.model, "config", None)
        text_config = getattr(config, "text_config", config)
        for attr in ("max_position_embeddings", "max_length"):
            value = getattr(text_config, attr, None)
            if isinstance(value, int) and 0 < value < 100_000:
                return value
        value = getattr(self.tokenizer, "model_max_length", 77)
        return value if isinstance(value, int) and 0 < value < 100_000 else 77

    @classmethod
    def from_pretrained(
        cls,
        model: str,
        trust_remote_code: bool = False,
        revision: str | None = None,
        **kwargs: Any,
    ) -> TransformersScorer:
        """Load model, image processor and tokenizer from a Hub id or a local folder.

        ``line-corporation/clip-japanese-base`` needs ``trust_remote_code=True`` (its code runs in
        this process: pin ``revision`` to a reviewed commit).
        """
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        common = {"trust_remote_code": trust_remote_code, "revision": revision}
        try:
            net = AutoModel.from_pretrained(model, **common)
            processor = AutoImageProcessor.from_pretrained(model, **common)
            tokenizer = AutoTokenizer.from_pretrained(model, **common)
        except (OSError, ValueError) as e:
            hint = "" if trust_remote_code else " (models with their own code need trust_remote_code: true)"
            raise RuntimeError(f"cannot load scorer model {model!r}: {e}{hint}") from e
        if not (hasattr(net, "get_image_features") and hasattr(net, "get_text_features")):
            raise TypeError(f"{model!r} ({type(net).__name__}) has no get_image_features/get_text_features")
        kwargs.setdefault("name", f"transformers:{model}")
        return cls(net, processor, tokenizer, **kwargs)

    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return _features(self.model.get_image_features(pixel_values=pixels), "image")

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_text_length, return_tensors="pt"
        )
        inputs = {k: v.to(self.device) for k, v in enc.items() if k in self._text_keys or not self._text_keys}
        return _features(self.model.get_text_features(**inputs), "text")
