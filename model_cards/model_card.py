"""Model cards: architecture, training recipe and this checkpoint's run, evaluation, usage.

Everything comes from structured data: the model's ``config.json``, the trainer's
``vila_step_summary.json`` (when the folder was written by ``training/stepN.py``) and the
evaluation report (``eval/report.py``), whose ``model-index`` becomes the card's metadata. Rendered
with huggingface_hub's :class:`ModelCard`, so the metadata is checked as the Hub checks it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard, ModelCardData
from huggingface_hub.repocard_data import model_index_to_eval_results

from dataset_builders.project import PROJECT_URL

TEMPLATE = Path(__file__).parent / "templates" / "model_card.md"


@dataclass
class ModelCardInfo:
    """What the release knows beyond the folder: repo, licence, lineage, words."""

    repo_id: str
    license: str = "other"
    description: str = ""
    base_models: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    language: list[str] = field(default_factory=lambda: ["ja", "en"])
    tags: list[str] = field(default_factory=lambda: ["llava", "vila", "llm-jp", "japanese", "ja-vila"])

    @property
    def model_name(self) -> str:
        return self.repo_id.split("/")[-1]


def _get(config: Any, name: str, default: Any = None) -> Any:
    return config.get(name, default) if isinstance(config, dict) else getattr(config, name, default)


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
        rows.append(("parameters", f"{n_parameters:,}"))
    dtype = _get(config, "dtype") or _get(config, "torch_dtype")
    if dtype:
        rows.append(("weights dtype", f"`{dtype}`"))
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
    sources = {k.removeprefix("samples_"): v for k, v in data.items() if k.startswith("samples_")}
    if sources:
        rows.append(("data read", ", ".join(f"`{k}` {v:,} samples" for k, v in sorted(sources.items()))))
    if "rows" in data:
        rows.append(("training rows", f"{data.get('kept', data['rows']):,} ({data.get('dropped_too_long', 0):,} dropped "
                     f"as longer than the max length), {data.get('tokens', 0):,} tokens"))
    losses = summary.get("losses") or []
    if losses:
        rows.append(("loss", f"{losses[0]:.3f} (first log) → {losses[-1]:.3f} (last log)"))
    return rows


def card_model_index(report: dict[str, Any], model_name: str) -> list[dict[str, Any]]:
    """The report's ``model-index`` named after the released model."""
    index = copy.deepcopy(report.get("model-index") or [])
    for entry in index:
        entry["name"] = model_name
    return index


def evaluation_section(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """Header line (decoding, judge, prompt versions) and one table per task, from the report."""
    if not report:
        return None
    from eval.report import task_table

    gen, judge = report.get("generation") or {}, report.get("judge")
    header = (f"Greedy decoding (`do_sample={gen.get('do_sample', False)}`, max {gen.get('max_new_tokens', '?')} new "
              f"tokens), prompt format `{gen.get('prompt_format', '?')}`.")
    if judge:
        versions = ", ".join(f"`{k}`: `{v}`" for k, v in sorted((judge.get("prompt_versions") or {}).items()))
        header += (f" Judge: `{judge['model']}` (temperature {judge.get('temperature', 0)}, seed {judge.get('seed')}); "
                   f"judge prompt versions: {versions or '—'}.")
    else:
        header += " No judge (judge scores skipped)."
    return {"header": header, "tables": [task_table(name, task) for name, task in report["tasks"].items()],
            "tasks": ",".join(report["tasks"]), "judge": (judge or {}).get("model")}


def card_metadata(info: ModelCardInfo, report: dict[str, Any] | None) -> ModelCardData:
    eval_results = None
    if report and report.get("model-index"):
        _, eval_results = model_index_to_eval_results(card_model_index(report, info.model_name))
    return ModelCardData(
        language=info.language,
        license=info.license,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=info.tags,
        base_model=info.base_models or None,
        datasets=info.datasets or None,
        model_name=info.model_name,
        eval_results=eval_results or None,
    )


def render_model_card(
    info: ModelCardInfo,
    config: dict[str, Any],
    summary: dict[str, Any] | None = None,
    report: dict[str, Any] | None = None,
    n_parameters: int | None = None,
    chat_format: str | None = None,
) -> ModelCard:
    """The model card for ``info.repo_id`` from the model's config, its training summary and eval report."""
    license_text = (f"`{info.license}`." if info.license != "other"
                    else "See the licences of the base models and of the training data (`license: other`).")
    if info.base_models:
        license_text += " Base models: " + ", ".join(f"[{m}](https://huggingface.co/{m})" for m in info.base_models) + "."
    return ModelCard.from_template(
        card_metadata(info, report),
        template_path=str(TEMPLATE),
        model_name=info.model_name,
        repo_id=info.repo_id,
        project_url=PROJECT_URL,
        description=info.description or (
            "A Japanese vision-language model with the LLM-jp-3 VILA architecture (SigLIP vision encoder, "
            "2-layer MLP projector, LLM-jp-3 language model), trained with ja-vila."),
        architecture_class=(_get(config, "architectures") or ["LlavaForConditionalGeneration"])[0],
        architecture=architecture_rows(config, n_parameters),
        training=training_rows(summary),
        training_datasets=info.datasets,
        evaluation=evaluation_section(report),
        chat_format=chat_format,
        license_text=license_text,
    )
