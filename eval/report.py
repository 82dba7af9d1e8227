"""The evaluation report: ``report.json`` (everything), ``report.md`` (a table per task, the judge
model and prompt version beside every judge score) and ``model-index.yaml`` (the same results in the
``model-index`` shape a Hugging Face model card takes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dataset_builders.atomic import atomic_write_json, atomic_write_text
from dataset_builders.project import PROJECT_URL

#: model-index metric ``type`` for each of our metric names.
METRIC_TYPES = {"rougel": "rougeL", "llm_judge": "llm_judge", "heron_relative": "heron_bench_relative",
                "vqa_accuracy": "vqa_accuracy"}


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _details_text(metric: dict[str, Any]) -> str:
    if metric.get("skipped"):
        return f"skipped: {metric['skipped']}"
    d = metric.get("details") or {}
    if metric["name"] == "heron_relative":
        parts = [f"{c} {_fmt(d.get(f'{c}_rel'))} (n={d.get(f'{c}_n', 0)})" for c in ("conv", "detail", "complex")]
        parts.append(f"unscored {d.get('parse_error_count', 0)}")
        return " · ".join(parts)
    if metric["name"] == "llm_judge":
        text = f"n={d.get('n_scored', 0)} scored, {d.get('n_failed', 0)} failed"
        if d.get("failures"):
            text += " (" + ", ".join(f"{k} {v}" for k, v in sorted(d["failures"].items())) + ")"
        return text
    return f"n={d.get('n', 0)}"


def task_table(name: str, task: dict[str, Any]) -> str:
    """One Markdown table for one task."""
    lines = [f"### {task['title']} (`{name}`, {task['n_items']} items, {task['dataset']['source']})", "",
             "| metric | score | judge | judge prompt | details |", "|---|---:|---|---|---|"]
    for m in task["metrics"]:
        lines.append(f"| {m['label']} | {_fmt(m['value'])} | {m.get('judge_model') or '—'} | "
                     f"{m.get('judge_prompt_version') or '—'} | {_details_text(m)} |")
    return "\n".join(lines)


def to_markdown(report: dict[str, Any]) -> str:
    """The Markdown report: a header with the model and decoding, then a table per task."""
    gen = report.get("generation") or {}
    judge = report.get("judge")
    head = [f"## Evaluation of `{report['model']}`", "",
            f"Greedy decoding, prompt format `{gen.get('prompt_format', '?')}`, batch {gen.get('batch_size', '?')}; "
            + (f"judge `{judge['model']}` (temperature 0, seed 0)." if judge else "no judge."), ""]
    tables = [task_table(name, task) for name, task in report["tasks"].items()]
    return "\n".join(head) + "\n" + "\n\n".join(tables) + "\n"


def model_index(report: dict[str, Any]) -> list[dict[str, Any]]:
    """``model-index`` entries for a model card (skipped metrics are left out: they have no value)."""
    results = []
    for task in report["tasks"].values():
        metrics = []
        for m in task["metrics"]:
            if m["value"] is None:
                continue
            entry: dict[str, Any] = {"type": METRIC_TYPES.get(m["name"], m["name"]), "value": round(m["value"], 2),
                                     "name": m["label"]}
            if m.get("judge_model"):
                entry["name"] = f"{m['label']} (judge {m['judge_model']}, prompt {m['judge_prompt_version']})"
                entry["args"] = {"judge_model": m["judge_model"], "judge_prompt_version": m["judge_prompt_version"]}
            metrics.append(entry)
        if not metrics:
            continue
        dataset: dict[str, Any] = {"name": task["title"], "type": task["dataset"]["id"]}
        if task["dataset"].get("split"):
            dataset["split"] = task["dataset"]["split"]
        if task["dataset"]["source"] != "hub" or task.get("limit") is not None:
            dataset["args"] = {"source": task["dataset"]["source"], "n_items": task["n_items"]}
        results.append({"task": {"type": task["task_type"], "name": task["task_label"]}, "dataset": dataset,
                        "metrics": metrics, "source": {"name": "ja-vila eval", "url": PROJECT_URL}})
    return [{"name": report.get("model_name") or report["model"], "results": results}]


def write_report(out_dir: str | Path, report: dict[str, Any]) -> dict[str, Path]:
    """Write the three report files (atomically); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "model_index": out / "model-index.yaml"}
    atomic_write_json(paths["json"], report)
    atomic_write_text(paths["markdown"], to_markdown(report))
    atomic_write_text(paths["model_index"], yaml.safe_dump({"model-index": report["model-index"]},
                                                           allow_unicode=True, sort_keys=False))
    return paths
