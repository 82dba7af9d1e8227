"""Scorers by name, so YAML configs can choose them: ``build_scorer({"type": ..., ...})``.

Types (extra keys go to the constructor; every type also takes ``name``, ``device`` ("auto"),
``dtype`` (fp32 / fp16 / bf16, GPU only), ``batch_size``, ``num_workers``):

- ``{"type": "open_clip", "model": "xlm-roberta-large-ViT-H-14", "pretrained": "frozen_laion5b_s13b_b90k"}``
  (optionally ``model_cfg: {...}`` to register a new architecture);
- ``{"type": "transformers", "model": "line-corporation/clip-japanese-base", "trust_remote_code": true}``;
- ``{"type": "tiny", "seed": 0}`` — the tiny transformers CLIP (tests, demo);
- ``{"type": "tiny_open_clip", "seed": 0}`` — the tiny open_clip CLIP.

``register_scorer("mytype", options=(...))`` adds a factory; :func:`check_scorer_config` checks a
config dict's type and keys when the builder config is read, so a typo fails before any work.
The paper's scorers are named in
:mod:`dataset_builders.scoring.presets`; :mod:`dataset_builders.scoring.preflight` checks a config
resolves before a build starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dataset_builders.errors import UserInputError
from dataset_builders.scoring.scorer import Scorer

_FACTORIES: dict[str, Callable[..., Scorer]] = {}
_OPTIONS: dict[str, frozenset[str] | None] = {}  # keys a type takes besides "type"; None: not checked

#: Keys every scorer type takes (``Scorer.__init__``).
COMMON_OPTIONS = ("name", "device", "dtype", "batch_size", "text_batch_size", "num_workers")


def register_scorer(
    type_name: str, options: Iterable[str] | None = None
) -> Callable[[Callable[..., Scorer]], Callable[..., Scorer]]:
    """Register ``factory`` as ``type_name``; ``options``: the keys it takes beyond :data:`COMMON_OPTIONS`
    (``None``: its keys are not checked at config load)."""

    def deco(factory: Callable[..., Scorer]) -> Callable[..., Scorer]:
        _FACTORIES[type_name] = factory
        _OPTIONS[type_name] = None if options is None else frozenset((*COMMON_OPTIONS, *options))
        return factory

    return deco


def scorer_types() -> list[str]:
    return sorted(_FACTORIES)


def check_scorer_config(config: Mapping[str, Any] | Scorer, where: str = "scorer") -> None:
    """Raise :class:`UserInputError` naming ``where`` when ``config`` has no known ``type`` or keys that
    type does not take — at config load, not after the download stage."""
    if isinstance(config, Scorer):
        return
    if not isinstance(config, Mapping):
        raise UserInputError(f"{where}: a scorer config is a mapping with a 'type' ({', '.join(scorer_types())}); "
                             f"got {config!r}")
    type_name = config.get("type")
    if type_name is None:
        raise UserInputError(f"{where}: no 'type' ({', '.join(scorer_types())}); got keys {sorted(config)}")
    if type_name not in _FACTORIES:
        raise UserInputError(f"{where}: unknown scorer type {type_name!r}; known: {', '.join(scorer_types())}")
    allowed = _OPTIONS.get(type_name)
    unknown = sorted(set(config) - {"type"} - allowed) if allowed is not None else []
    if unknown:
        raise UserInputError(f"{where}: unknown key(s) {unknown} for scorer type {type_name!r}; "
                             f"known: {sorted(allowed)}")


def build_scorer(config: Mapping[str, Any] | Scorer) -> Scorer:
    """A scorer from a config dict (or the scorer itself, passed through)."""
    if isinstance(config, Scorer):
        return config
    if not isinstance(config, Mapping) or "type" not in config:
        raise UserInputError(f"a scorer config is a mapping with a 'type' ({', '.join(scorer_types())}); got {config!r}")
    kwargs = dict(config)
    type_name = kwargs.pop("type")
    if type_name not in _FACTORIES:
        raise UserInputError(f"unknown scorer type {type_name!r}; known: {', '.join(scorer_types())}")
    try:
        return _FACTORIES[type_name](**kwargs)
    except TypeError as e:
        raise UserInputError(f"bad options for scorer type {type_name!r}: {e}") from e


@register_scorer("open_clip", ("model", "pretrained", "model_cfg", "seed", "tokenizer", "preprocess", "cache_dir"))
def _open_clip(model: str, pretrained: str | None = None, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.open_clip_scorer import OpenClipScorer

    return OpenClipScorer.from_pretrained(model, pretrained, **kwargs)


@register_scorer("transformers", ("model", "trust_remote_code", "revision", "max_text_length", "preprocess"))
def _transformers(model: str, trust_remote_code: bool = False, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.hf_scorer import TransformersScorer

    return TransformersScorer.from_pretrained(model, trust_remote_code=trust_remote_code, **kwargs)


@register_scorer("tiny", ("seed", "image_size", "max_text_length", "preprocess"))
def _tiny(seed: int = 0, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.tiny import tiny_clip_scorer

    return tiny_clip_scorer(seed=seed, **kwargs)


@register_scorer("tiny_open_clip", ("seed", "image_size"))
def _tiny_open_clip(seed: int = 0, **kwargs: Any) -> Scorer:
    from dataset_builders.scoring.tiny import tiny_open_clip_scorer

    return tiny_open_clip_scorer(seed=seed, **kwargs)
