"""Model cards from what happened: the model's ``config.json`` and size, this checkpoint's training run
and lineage, and the evaluation report.

* Architecture and size come from the loaded model (its config, its parameter count): a tiny test
  model is called tiny, and "LLM-jp-3" is said only of a model assembled from an LLM-jp-3 checkpoint.
* Hyperparameters come from the checkpoint's own training arguments, which ``training/train.py``
  records in ``vila_step_summary.json`` (``training_args``), never from the published recipe.
* Base models come from the assembly (``assembled_from``: the vision and language checkpoints step 0
  started from, carried through steps 1 and 2); only Hub ids enter the metadata, a local folder is
  named by its last component.
* Evaluation results enter ``model-index`` only when they are benchmark results (full benchmark, real
  judge: :func:`eval.report.caveats`); others stay in the card's tables, marked, unless forced.

Rendered with huggingface_hub's :class:`ModelCard`, so the metadata is checked as the Hub checks it.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from dataset_builders.project import PROJECT_URL

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"
#: Below this many parameters a model is a toolchain stand-in, and the card says so first.
TINY_PARAMETERS = 50_000_000
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_LLM_JP_3 = re.compile(r"llm-jp-3", re.IGNORECASE)
_STEP_TRAINS = {0: "the projector (vision encoder and LLM frozen)", 1: "the projector and the LLM",
                2: "the projector and the LLM, loss on answers only"}


@dataclass
class ModelCardInfo:
    """What the release knows beyond the folder: repo, licence, lineage, words."""

    repo_id: str
    license: str = "other"
    license_name: str | None = None
    license_link: str | None = None
    description: str = ""
    base_models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=lambda: ["ja", "en"])
    tags: list[str] = field(default_factory=lambda: ["llava", "vila", "japanese", "ja-vila"])
    force_model_index: bool = False

    @property
    def model_name(self) -> str:
        return self.repo_id.split("/")[-1]


def _get(config: Any, name: str, default: Any = None) -> Any:
    return config.get(name, default) if isinstance(config, dict) else getattr(config, name, default)


def is_hub_id(name: str | None) -> bool:
    """``ORG/NAME`` that is not a local path (a folder that exists, or one written as a path)."""
    if not name or name.startswith(("/", ".", "~")) or not _HUB_ID.match(name):
        return False
    return not Path(name).exists()


def display_name(name: str | None) -> str:
    """A Hub id as it is, a local folder by its last component (never an absolute path)."""
    if not name:
        return "unknown"
    return name if is_hub_id(name) else f"local folder `{Path(name).name}`"


def human_count(n: int) -> str:
    """``264,224 (264K)``, ``13,999,744,896 (14.0B)``."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            short = f"{n / div:.1f}{unit}" if n < div * 100 else f"{n / div:.0f}{unit}"
            return f"{n:,} ({short})"
    return f"{n:,}"


def lineage(summary: dict[str, Any] | None) -> dict[str, str]:
    """``{"vision": ..., "llm": ...}`` the model was assembled from ({} when not recorded)."""
    found = (summary or {}).get("assembled_from") or {}
    return {k: v for k, v in found.items() if isinstance(v, str) and v}


def base_models_from(summary: dict[str, Any] | None) -> list[str]:
    """The assembly's checkpoints that are Hub ids (the card's ``base_model``)."""
    return [v for v in lineage(summary).values() if is_hub_id(v)]


def is_llm_jp_3(summary: dict[str, Any] | None, base_models: list[str]) -> bool:
    """Only a model assembled from an LLM-jp-3 language model is called LLM-jp-3."""
    llm = lineage(summary).get("llm", "")
    return bool(_LLM_JP_3.search(Path(llm).name if llm else "")) or any(_LLM_JP_3.search(m) for m in base_models)


def default_description(config: dict[str, Any], n_parameters: int | None, summary: dict[str, Any] | None,
                        base_models: list[str]) -> str:
    """One paragraph that says what the model is, from its config, its size and its lineage."""
    text_type = _get(_get(config, "text_config") or {}, "model_type", "causal LM")
    vision_type = _get(_get(config, "vision_config") or {}, "model_type", "vision encoder")
    size = f"{n_parameters:,} parameters" if n_parameters else "unknown size"
    llm = lineage(summary).get("llm")
    layout = (f"a `{vision_type}` vision encoder, a 2-layer MLP projector and a `{text_type}` language model"
              + (f" ({display_name(llm)})" if llm else ""))
    if n_parameters is not None and n_parameters < TINY_PARAMETERS:
        trained = (f" It was trained for {summary['global_step']} optimizer step(s)." if (summary or {}).get("global_step")
                   else "")
        return (f"**A tiny model for trying the toolchain ({size}), not a usable model.** It has the "
                f"LLM-jp-3 VILA layout ({layout}) but not its size or weights, and it does not answer usefully."
                + trained)
    if is_llm_jp_3(summary, base_models):
        return (f"A Japanese vision-language model with the LLM-jp-3 VILA architecture ({layout}; {size}), "
                "trained with ja-vila.")
    return f"A vision-language model with the LLM-jp-3 VILA layout ({layout}; {size}), trained with ja-vila."


def architecture_rows(config: dict[str, Any], n_parameters: int | None = None) -> list[tuple[str, str]]:
    """The architecture table from a Llava-style ``config.json`` (vision encoder → projector → LLM)."""
    vision, text = _get(config, "vision_config") or {}, _get(config, "text_config") or {}
    rows = [("class", f"`{(_get(config, 'architectures') or ['?'])[0]}` (`{_get(config, 'model_type')}`)")]
    if vision:
        rows.append(("vision encoder", f"`{_get(vision, 'model_type')}`: {_get(vision, 'image_size')} px images, "
                     f"patch {_get(vision, 'patch_size')}, hidden {_get(vision, 'hidden_size')}, "
                     f"{_get(vision, 'num_hidden_layers')} layers (frozen)"))
    rows.append(("projector", f"2-layer MLP ({_get(config, 'projector_hidden_act', '?')}), "
                 f"{_get(vision, 'hidden_size')} → {_get(text, 'hidden_size')}; features of layer "
                 f"{_get(config, 'vision_feature_layer')}, strategy `{_get(config, 'vision_feature_select_strategy')}`"))
    if text:
        rows.append(("language model", f"`{_get(text, 'model_type')}`: hidden {_get(text, 'hidden_size')}, "
                     f"{_get(text, 'num_hidden_layers')} layers, {_get(text, 'num_attention_heads')} heads, "
                     f"vocabulary {_get(text, 'vocab_size')}, context {_get(text, 'max_position_embeddings')}"))
    rows.append(("image tokens per image", str(_get(config, "image_seq_length", "?"))))
    if n_parameters:
        rows.append(("parameters", human_count(n_parameters)))
    dtype = _get(config, "dtype") or _get(config, "torch_dtype")
    if dtype:
        rows.append(("weights dtype", f"`{dtype}`"))
    return rows


def _precision(args: dict[str, Any]) -> str:
    return "bf16" if args.get("bf16") else "fp16" if args.get("fp16") else "fp32"


def _warmup(args: dict[str, Any]) -> str:
    steps, ratio = args.get("warmup_steps") or 0, args.get("warmup_ratio") or 0
    if ratio:
        return f"{ratio:g} of the steps"
    if 0 < steps < 1:  # transformers 5: a float below 1 is a ratio
        return f"{steps:g} of the steps"
    return f"{int(steps)} steps"


def hyperparameter_rows(summary: dict[str, Any] | None) -> list[tuple[str, str]]:
    """This checkpoint's training arguments as ``training/train.py`` recorded them (nothing when absent)."""
    args = (summary or {}).get("training_args")
    if not args:
        return []
    world = int(summary.get("world_size") or 1)
    per_device, accum = int(args.get("per_device_train_batch_size", 1)), int(args.get("gradient_accumulation_steps", 1))
    rows = [
        ("learning rate", f"{args.get('learning_rate'):g}"),
        ("schedule", f"`{args.get('lr_scheduler_type')}`, warmup {_warmup(args)}"),
        ("global batch", f"{per_device * accum * world} ({per_device} per device × {accum} accumulation × "
                         f"{world} process(es))"),
        ("optimizer steps", f"{args.get('max_steps')} (`max_steps`)"),
        ("max length", f"{args.get('max_length')} tokens, packing {'on' if args.get('packing') else 'off'}"),
        ("optimizer", f"`{args.get('optim')}`, weight decay {args.get('weight_decay'):g}"),
        ("precision", _precision(args)),
        ("seed", str(args.get("seed"))),
    ]
    return rows


def training_rows(summary: dict[str, Any] | None) -> list[tuple[str, str]]:
    """This checkpoint's run, from ``vila_step_summary.json`` (nothing when the folder has none)."""
    if not summary:
        return []
    rows = [("step", f"{summary.get('step')} ({summary.get('global_step')} optimizer steps on "
                     f"{summary.get('world_size', 1)} process(es); finished: {summary.get('finished')})")]
    params = summary.get("parameters") or {}
    if params:
        rows.append(("parameters trained", f"{params.get('trainable', 0):,} trainable, {params.get('frozen', 0):,} frozen"))
    data = summary.get("data") or {}
    per_source = data.get("sources")
    if per_source:  # training/summary.py: what each source gave
        rows.append(("data trained", ", ".join(
            f"`{k}` {v['samples']:,} samples ({v['tokens']:,} tokens, {v['images']:,} images)"
            for k, v in sorted(per_source.items()))))
        dropped: dict[str, int] = {}
        for v in per_source.values():
            for reason, n in (v.get("dropped") or {}).items():
                dropped[reason] = dropped.get(reason, 0) + n
        rows.append(("training rows", f"{data.get('rows', 0):,} rows, {data.get('row_tokens', 0):,} tokens; dropped: "
                     + (", ".join(f"{r} {n:,}" for r, n in sorted(dropped.items())) or "none")))
    else:  # summaries written before the per-source counts
        sources = {k.removeprefix("samples_"): v for k, v in data.items() if k.startswith("samples_")}
        if sources:
            rows.append(("data read", ", ".join(f"`{k}` {v:,} samples" for k, v in sorted(sources.items()))))
        if "rows" in data:
            rows.append(("training rows", f"{data.get('kept', data['rows']):,} ({data.get('dropped_too_long', 0):,} "
                         f"dropped as longer than the max length), {data.get('tokens', 0):,} tokens"))
    losses = summary.get("losses") or []
    if losses:
        rows.append(("loss", f"{losses[0]:.3f} (first log) → {losses[-1]:.3f} (last log)"))
    origin = lineage(summary)
    if origin:
        rows.append(("assembled from", ", ".join(f"{k} {display_name(v)}" for k, v in origin.items())))
    return rows


def card_model_index(report: dict[str, Any], model_name: str, force: bool = False) -> list[dict[str, Any]]:
    """The report's benchmark results as ``model-index`` named after the released model.

    Numbers that are not benchmark results (:func:`eval.report.caveats`) are left out with a warning,
    or, with ``force``, published with their caveats in ``args`` and a louder warning.
    """
    from eval.report import model_index, withheld_metrics

    withheld = withheld_metrics(report)
    if withheld:
        what = "; ".join(f"{w['task']} {w['metric']} ({', '.join(w['caveats'])})" for w in withheld)
        if force:
            logger.warning("--force-model-index: publishing numbers that are not benchmark results in model-index: %s",
                           what)
        else:
            logger.warning("left out of model-index (not benchmark results): %s; they stay in the card's tables, "
                           "marked. Run the full benchmarks with a real judge, or pass --force-model-index", what)
    index = copy.deepcopy(model_index(report, include_caveated=force))
    for entry in index:
        entry["name"] = model_name
    return [entry for entry in index if entry.get("results")]


def evaluation_section(report: dict[str, Any] | None, force: bool = False, repo_id: str = "MODEL") -> dict[str, Any] | None:
    """Header line (decoding, judge, prompt versions) and one table per task, from the report."""
    if not report:
        return None
    from eval.report import judge_is_scripted, repeated_runs, task_table, withheld_metrics

    gen, judge = report.get("generation") or {}, report.get("judge")
    header = (f"Greedy decoding (`do_sample={gen.get('do_sample', False)}`, max {gen.get('max_new_tokens') or 'per-task'} "
              f"new tokens), prompt format `{gen.get('prompt_format', '?')}`.")
    if judge:
        versions = ", ".join(f"`{k}`: `{v}`" for k, v in sorted((judge.get("prompt_versions") or {}).items()))
        runs = repeated_runs(judge)
        header += (f" Judge: `{judge['model']}` (temperature {judge.get('temperature', 0)}, seed {judge.get('seed')}"
                   + (f"; mean of {', '.join(f'{v} runs on {k}' for k, v in runs.items())}" if runs else "") + ")"
                   + (", **a scripted stand-in, not a model**" if judge_is_scripted(judge) else "")
                   + f"; judge prompt versions: {versions or '—'}.")
    else:
        header += " No judge (judge scores skipped)."
    withheld = withheld_metrics(report)
    n_numbers = sum(1 for task in report["tasks"].values() for m in task["metrics"] if m["value"] is not None)
    if judge_is_scripted(judge) or (withheld and len(withheld) == n_numbers):
        rerun = f"ja-vila eval --model {repo_id} --protocol paper"  # the way to benchmark results
    else:
        rerun = (f"ja-vila eval --model {repo_id} "
                 + (f"--protocol {report['protocol']}" if report.get("protocol") else
                    f"--tasks {','.join(report['tasks'])}" + (f" --judge {judge['model']}" if judge else "")))
    return {"header": header, "rerun": rerun, "all_withheld": bool(withheld) and len(withheld) == n_numbers,
            "tables": [task_table(name, task, report) for name, task in report["tasks"].items()],
            "withheld": [f"{w['task']} {w['metric']}: {', '.join(w['caveats'])}" for w in withheld],
            "forced": force and bool(withheld)}


def card_metadata(info: ModelCardInfo, report: dict[str, Any] | None) -> ModelCardData:
    eval_results = None
    if report:
        index = card_model_index(report, info.model_name, info.force_model_index)
        if index:
            _, eval_results = model_index_to_eval_results(index)
    return ModelCardData(
        language=info.language,
        license=info.license,
        license_name=info.license_name,
        license_link=info.license_link,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=info.tags,
        base_model=info.base_models or None,
        datasets=info.datasets or None,
        model_name=info.model_name,
        eval_results=eval_results or None,
    )


def _license_text(info: ModelCardInfo) -> str:
    if info.license == "other":
        name = info.license_name or "other"
        text = (f"`{name}`" + (f": see [{info.license_link}]({info.license_link})." if info.license_link else ".")
                + " The licences of the base models and of the training data apply too.")
    else:
        text = f"`{info.license}`."
    if info.base_models:
        text += " Base models: " + ", ".join(f"[{m}](https://huggingface.co/{m})" for m in info.base_models) + "."
    return text


def render_model_card(
    info: ModelCardInfo,
    config: dict[str, Any],
    summary: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    n_parameters: int | None = None,
    chat_format: str | None = None,
) -> ModelCard:
    """The model card for ``info.repo_id`` from the model's config and size, its training summary and eval report."""
    if not info.base_models:
        info.base_models = base_models_from(summary)
    if is_llm_jp_3(summary, info.base_models) and "llm-jp" not in info.tags:
        info.tags = [*info.tags, "llm-jp"]
    tiny = n_parameters is not None and n_parameters < TINY_PARAMETERS
    step = (summary or {}).get("step")
    return ModelCard.from_template(
        card_metadata(info, report),
        template_path=str(TEMPLATE),
        model_name=info.model_name,
        repo_id=info.repo_id,
        project_url=PROJECT_URL,
        description=info.description or default_description(config, n_parameters, summary, info.base_models),
        tiny=tiny,
        architecture_class=(_get(config, "architectures") or ["LlavaForConditionalGeneration"])[0],
        architecture=architecture_rows(config, n_parameters),
        step=step,
        step_trains=_STEP_TRAINS.get(step) if isinstance(step, int) else None,
        hyperparameters=hyperparameter_rows(summary),
        has_summary=bool(summary),
        training=training_rows(summary),
        training_datasets=info.datasets,
        evaluation=evaluation_section(report, info.force_model_index, info.repo_id),
        chat_format=chat_format,
        license_text=_license_text(info),
    )
