"""Scorers by name, so YAML configs can choose them: ``build_scorer({"type": ..., ...})``.

Types (extra keys go to the constructor; every type also takes ``name``, ``device`` ("auto"),
``dtype`` (fp32 / fp16 / bf16, GPU only), ``batch_size``, ``num_workers``):

- ``{"type": "open_clip", "model": "xlm-roberta-large-ViT-H-14", "pretrained": "frozen_laion5b_s13b_b90k"}``
  (optionally ``model_cfg: {...}`` to register a new architecture);
- ``{"type": "transformers", "model": "line-corporation/clip-japanese-base", "trust_remote_code": true}``;
- ``{"type": "tiny", "seed": 0}`` — the tiny transformers CLIP (tests, demo);
- ``{"type": "tiny_open_clip", "seed": 0}`` — the tiny open_clip CLIP.

``register_scorer("mytype")`` adds a factory. The paper's scorers are named in
:mod:`dataset_builders.scoring.presets`; :mod:`dataset_builders.scoring.preflight` checks a config
resolves before a build starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dataset_builders.scoring.scorer import Scorer

_FACTORIES: dict[str, Callable[..., Scorer]] = {}


def register_scorer(type_name: str) -> Callable[[Callable[..., Scorer]], Callable[..., Scorer]]:
    def deco(factory: Callable[..., Scorer]) -> Callable[..., Scorer]:
        _FACTORIES[type_name] = factory
        return factory

    return deco


def scorer_types() -> list[str]:
    return sorted(_FACTORIES)


def build_scorer(config: Mapping[str, Any] | Scorer) -> Scorer:
    """A scorer from a config dict (or the scorer itself, passed through)."""
    if isinstance(config, Scorer):
        return config
    if not isinstance(config, Mapping) or "type" not in config:
        raise ValueError(f"a scorer config is a mapping with a 'type' ({', '.join(scorer_types())}); got {config!r}")
    kwargs = dict(config)
    type_name = kwargs.pop("type")
    if type_name not in _FACTORIES:
        raise ValueError(f"unknown scorer type {type_name!r}; known: {', '.join(scorer_types())}")
    try:
        return _FACTORIES[type_name](**kwargs)
    except TypeError as e:
        raise ValueError(f"bad options for scorer type {type_name!r}: {e}") from e


@register_scorer("open_clip")
def _open_clip(model: str, pretrained: str | None = None, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.open_clip_scorer import OpenClipScorer

    return OpenClipScorer.from_pretrained(model, pretrained, **kwargs)


@register_scorer("transformers")
def _transformers(model: str, trust_remote_code: bool = False, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.hf_scorer import TransformersScorer

    return TransformersScorer.from_pretrained(model, trust_remote_code=trust_remote_code, **kwargs)


@register_scorer("tiny")
def _tiny(seed: int = 0, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.tiny import tiny_clip_scorer

    return tiny_clip_scorer(seed=seed, **kwargs)


@register_scorer("tiny_open_clip")
def _tiny_open_clip(seed: int = 0, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.tiny import tiny_open_clip_scorer

    return tiny_open_clip_scorer(seed=seed, **kwargs)
