"""``ja-vila release model``: a trained model folder (+ its evaluation report) → a Hub model repo.

Uploaded: weights (safetensors only), configs, tokenizer and processor files, the chat template and
the generated ``README.md``; JSON files that name local folders (``_name_or_path`` in ``config.json``)
are staged with those paths blanked, and a stage that still names one is refused. Never uploaded: ``training_args.bin`` (a pickle), trainer state and
results, ``vila_step_summary.json`` (its content is in the card), ``checkpoint-*/``, logs, caches,
``*.tmp`` files.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_cards.release.hub import HubFactory, hub_calls, push, resolve_token
from model_cards.release.plan import ReleaseError, ReleasePlan, check_repo_id
from model_cards.release.staging import (
    check_no_local_paths,
    check_no_secret,
    default_stage_dir,
    local_roots,
    scrubbed_json_files,
    stage_folder,
)

logger = logging.getLogger(__name__)

#: Files of a model folder that a release uploads (top level, plus ``additional_chat_templates/``).
MODEL_FILES = (
    "*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json",
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "vocab.txt", "merges.txt", "*.tiktoken", "preprocessor_config.json", "processor_config.json",
    "image_processor_config.json", "video_preprocessor_config.json", "chat_template.jinja", "chat_template.json",
    "additional_chat_templates/*.jinja",
)
SUMMARY_FILE = "vila_step_summary.json"  # training.train.SUMMARY_FILE (not imported: torch-free module)


def _managed(rel: str) -> bool:
    return rel == "README.md" or any(fnmatch.fnmatch(rel, p) for p in MODEL_FILES)


def model_files(folder: Path) -> dict[str, Path]:
    """The releasable files of ``folder`` (relative path → file); what is left out is logged."""
    if not (folder / "config.json").is_file():
        raise ReleaseError(f"{folder}: no config.json; give a folder written by save_pretrained "
                           "(training/stepN.py output or `ja-vila convert-vila`)")
    candidates = [p for p in folder.iterdir() if p.is_file()]
    extra = folder / "additional_chat_templates"
    candidates += sorted(extra.glob("*.jinja")) if extra.is_dir() else []
    files, skipped = {}, []
    for path in sorted(candidates):
        rel = path.relative_to(folder).as_posix()
        (files.__setitem__(rel, path) if _managed(rel) and rel != "README.md" else skipped.append(rel))
    skipped += sorted(p.name + "/" for p in folder.iterdir() if p.is_dir() and p.name != "additional_chat_templates")
    if skipped:
        logger.info("%s: not released: %s", folder, ", ".join(skipped))
    weights = [rel for rel in files if rel.endswith(".safetensors")]
    if not weights:
        pickled = [rel for rel in skipped if rel.endswith(".bin") and "model" in rel]
        raise ReleaseError(f"{folder}: no *.safetensors weights{' (only ' + ', '.join(pickled) + ')' if pickled else ''}; "
                           "save with model.save_pretrained(folder) (safetensors is the default)")
    for index in (rel for rel in files if rel.endswith(".safetensors.index.json")):
        needed = set(json.loads(files[index].read_text(encoding="utf-8")).get("weight_map", {}).values())
        missing = sorted(needed - set(files))
        if missing:
            raise ReleaseError(f"{files[index]}: weight shards {', '.join(missing[:3])} are missing; save the model again")
    return files


def verify_model(folder: Path) -> tuple[dict[str, Any], dict[str, Any], int, str | None]:
    """Load ``folder`` as a user would (``AutoModelForImageTextToText`` + ``AutoProcessor``, no remote code).

    Returns what was verified, the config as a dict, the parameter count and the chat template's
    rendering of one question (None without a template).
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        model = AutoModelForImageTextToText.from_pretrained(folder, dtype="auto", trust_remote_code=False)
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
    except Exception as e:  # noqa: BLE001 - any load error: nothing may be uploaded
        raise ReleaseError(f"{folder}: does not load with AutoModelForImageTextToText/AutoProcessor "
                           f"({type(e).__name__}: {e}); nothing was uploaded") from e
    n_parameters = sum(p.numel() for p in model.parameters())
    config = model.config.to_dict()
    chat = None
    if getattr(processor, "chat_template", None):
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "{question}"}]}]
        chat = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        logger.warning("%s: the processor has no chat template; pipeline('image-text-to-text') with messages "
                       "will not work (save one with processor.save_pretrained)", folder)
    verified = {"from_pretrained": type(model).__name__, "processor": type(processor).__name__,
                "parameters": n_parameters}
    del model
    logger.info("verified %s: %s", folder, verified)
    return verified, config, n_parameters, chat


def load_report(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """An evaluation report (``report.json`` or the folder holding it), checked for what the card needs."""
    if path is None:
        return None
    path = Path(path)
    path = path / "report.json" if path.is_dir() else path
    if not path.is_file():
        raise ReleaseError(f"--eval-report {path}: no such file (give the report.json written by `ja-vila eval`)")
    report = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(report, dict) or "tasks" not in report:
        raise ReleaseError(f"--eval-report {path}: not a ja-vila evaluation report (needs 'tasks')")
    return report


def release_model(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    eval_report: str | os.PathLike | None = None,
    private: bool = False,
    dry_run: bool = False,
    stage_dir: str | os.PathLike | None = None,
    license: str | None = None,  # noqa: A002 - the card field's name
    license_name: str | None = None,
    license_link: str | None = None,
    base_models: list[str] | None = None,
    datasets: list[str] | None = None,
    description: str = "",
    force_model_index: bool = False,
    hub_factory: HubFactory | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReleasePlan:
    """Verify, stage and (unless ``dry_run``) push the model ``folder`` to ``repo_id``.

    The card is generated from the folder's config, size and training summary (hyperparameters,
    base models from the assembly unless ``base_models`` is given) and from ``eval_report``: its
    benchmark results become the card's ``model-index``; numbers from fixture data, part of a
    benchmark or a scripted judge stay out of it unless ``force_model_index``. Returns the plan (see
    :func:`release_dataset`).
    """
    from model_cards.card_checks import CardError, check_card, check_license_args
    from model_cards.model_card import ModelCardInfo, render_model_card

    folder = Path(folder)
    check_repo_id(repo_id)
    try:
        check_license_args(license, license_name, license_link)
    except CardError as e:
        raise ReleaseError(str(e)) from e
    for name in [*(base_models or []), *(datasets or [])]:
        check_repo_id(name)
    token = None if dry_run else resolve_token()
    report = load_report(eval_report)
    files = model_files(folder)
    summary_path = folder / SUMMARY_FILE
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else None
    stage = Path(stage_dir) if stage_dir else default_stage_dir(folder)
    scrubbed = scrubbed_json_files(files)  # staged as written texts, never linked
    files = {rel: path for rel, path in files.items() if rel not in scrubbed}
    # stage the weights first, verify what will be uploaded, then write the card from what loaded
    stage_folder(stage, folder, files, scrubbed, _managed)
    verified, config, n_parameters, chat = verify_model(stage)
    info = ModelCardInfo(repo_id=repo_id, license=license, license_name=license_name, license_link=license_link,
                         description=description, base_models=list(base_models or []), datasets=list(datasets or []),
                         force_model_index=force_model_index)
    card = render_model_card(info, config, summary=summary, report=report, n_parameters=n_parameters, chat_format=chat)
    try:
        check_card(card, "model")
    except CardError as e:
        raise ReleaseError(f"{folder}: {e}") from e
    staged = stage_folder(stage, folder, files, {**scrubbed, "README.md": str(card)}, _managed)
    check_no_secret(stage, staged, token or _saved_token())
    check_no_local_paths(stage, staged, local_roots(folder, *([Path(eval_report)] if eval_report else [])))
    plan = ReleasePlan(
        kind="model", repo_id=repo_id, private=private, stage_dir=stage, files=staged, dry_run=dry_run,
        verified=verified,
        calls=hub_calls("model", repo_id, private, stage,
                        f"Release {info.model_name} ({n_parameters:,} parameters, ja-vila)",
                        delete_patterns=["*.safetensors", "*.safetensors.index.json"]),
    )
    if not dry_run:
        push(plan, hub_factory, token, sleep=sleep)
    return plan


def _saved_token() -> str | None:
    from huggingface_hub import get_token

    return get_token()
