"""Fail closed before a build starts: every model a config names must resolve; nothing is downloaded.

Without this, a filter or scorer whose weights are missing would run at random init in the score
stage, after the crawl was read and its images downloaded, and keep or drop an arbitrary share of the
data. :func:`check_models` runs first in each builder: it reads names and paths only (open_clip's
registry, the local filesystem, the syntax of Hub ids) and never loads or downloads a model. Random
weights are allowed only where a config says so: ``nsfw.head.random: true`` and the scorer types
``tiny`` / ``tiny_open_clip`` (the ``*-tiny.yaml`` plumbing presets). A Hub id cannot be checked
offline: it resolves when the model loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataset_builders.config import ConfigError

if TYPE_CHECKING:
    from dataset_builders.scoring.nsfw import NsfwConfig

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".npz", ".h5", ".onnx")


class MissingWeights(ConfigError):
    """A model a config names cannot be resolved: a user-input error whose message says the fix."""


def looks_like_path(ref: str) -> bool:
    """True when ``ref`` can only mean a local path, not a Hub id ``[namespace/]name``."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if ref.startswith(("/", ".", "~")) or "\\" in ref or ref.count("/") > 1 or ref.lower().endswith(WEIGHT_SUFFIXES):
        return True
    try:
        validate_repo_id(ref)
    except HFValidationError:
        return True
    return False


def reference_problem(ref: Any, key: str) -> str | None:
    """What is wrong with ``ref`` as a local path or Hub id, or None; checked offline."""
    if not isinstance(ref, str) or not ref:
        return f"{key} must be a local path or a Hub id, got {ref!r}"
    if Path(ref).expanduser().exists() or not looks_like_path(ref):
        return None
    return f"{key}={ref}: no such file or folder (and not a Hub id)"


def _open_clip_problems(config: Mapping[str, Any], key: str) -> list[str]:
    import open_clip
    from open_clip.factory import HF_HUB_PREFIX, LOCAL_DIR_PREFIX

    model, pretrained = config.get("model"), config.get("pretrained")
    if not isinstance(model, str):
        return [f"{key}.model must be an open_clip model name, got {model!r}"]
    if model.startswith(HF_HUB_PREFIX):  # config and weights come from that Hub repo
        problem = reference_problem(model[len(HF_HUB_PREFIX):], f"{key}.model")
        return [problem] if problem else []
    if model.startswith(LOCAL_DIR_PREFIX):
        folder = Path(model[len(LOCAL_DIR_PREFIX):]).expanduser()
        return [] if folder.is_dir() else [f"{key}.model={model}: no such folder"]
    if config.get("model_cfg") is None and model not in open_clip.list_models():
        return [f"{key}.model={model} is not an open_clip model (see open_clip.list_models())"]
    tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
    if pretrained is None:
        return [f"{key}.pretrained is not set: open_clip {model} would run at random init "
                f"(set it to one of: {tags}, or a checkpoint file)"]
    if open_clip.get_pretrained_cfg(model, str(pretrained)) or Path(str(pretrained)).expanduser().is_file():
        return []
    if looks_like_path(str(pretrained)):
        return [f"{key}.pretrained={pretrained}: no such checkpoint file"]
    return [f"{key}.pretrained={pretrained} is not an open_clip tag of {model} (its tags: {tags})"]


def scorer_problems(config: Any, key: str) -> list[str]:
    """What stops the scorer config at ``key`` from resolving (offline; empty when it will load)."""
    from dataset_builders.scoring.registry import scorer_types
    from dataset_builders.scoring.scorer import Scorer

    if isinstance(config, Scorer):
        return []
    if not isinstance(config, Mapping) or "type" not in config:
        return [f"{key} must be a mapping with a 'type' ({', '.join(scorer_types())}), got {config!r}"]
    kind = config["type"]
    if kind not in scorer_types():
        return [f"{key}.type={kind} is not a scorer type (known: {', '.join(scorer_types())})"]
    if kind == "open_clip":
        return _open_clip_problems(config, key)
    if kind == "transformers":
        problem = reference_problem(config.get("model"), f"{key}.model")
        return [problem] if problem else []
    return []  # tiny types are random by name; a type you registered is checked when it is built


def check_models(
    nsfw: NsfwConfig | None,
    scorers: Mapping[str, Any],
    references: Mapping[str, Any] | None = None,
) -> None:
    """Raise :class:`MissingWeights` naming every model that will not resolve, before any work starts.

    ``scorers``: scorer configs by their config key (``scorers.clip_a``); ``references``: other
    local-path-or-Hub-id settings by key (a tokenizer).
    """
    problems = [] if nsfw is None else nsfw.problems("nsfw")
    for key, config in scorers.items():
        problems += scorer_problems(config, key)
    for key, ref in (references or {}).items():
        problem = reference_problem(ref, key)
        problems += [problem] if problem else []
    if problems:
        raise MissingWeights("; ".join(problems))  # one line; no problem text holds "; "
