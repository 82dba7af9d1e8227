"""The evaluation report: ``report.json`` (everything), ``report.md`` (a table per task, the judge
model and prompt version beside every judge score) and ``model-index.yaml`` (the same results in the
``model-index`` shape a Hugging Face model card takes).

A number is a benchmark result only when the whole benchmark was run and, for a judge score, a real
judge model gave it. :func:`caveats` names what is missing (fixture data, ``--limit``, part of the
benchmark, a scripted judge); the Markdown shows it next to the number and :func:`model_index`
leaves such numbers out unless asked to include them.
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


def judge_is_scripted(judge: dict[str, Any] | None) -> bool:
    """A judge that is not a model (the scripted loopback server of the demo and the tests)."""
    return bool(judge) and bool(judge.get("scripted") or str(judge.get("model", "")).startswith("scripted"))


def _full_size(name: str) -> int | None:
    from eval.tasks import TASKS

    task = TASKS.get(name)
    return getattr(task, "full_size", None) if task else None


def task_caveats(name: str, task: dict[str, Any]) -> list[str]:
    """Why a task's numbers are not a full benchmark run (empty: they are)."""
    out = []
    dataset = task.get("dataset") or {}
    if dataset.get("fixture"):
        out.append(f"fixture data ({dataset['fixture']})" if isinstance(dataset["fixture"], str) else "fixture data")
    if task.get("limit") is not None:
        out.append(f"--limit {task['limit']}")
    full = _full_size(name)
    if full and task.get("n_items", full) < full and task.get("limit") is None:
        out.append(f"{task['n_items']} of the benchmark's {full} items")
    return out


def caveats(report: dict[str, Any], name: str, metric: dict[str, Any]) -> list[str]:
    """Why one number is not a benchmark result: its task's caveats, plus a scripted judge for judge scores."""
    out = task_caveats(name, report["tasks"][name])
    if metric.get("judge_model") and judge_is_scripted(report.get("judge")):
        out.append("scripted judge (not a model)")
    return out


def _runs_text(metric: dict[str, Any]) -> str:
    runs = (metric.get("details") or {}).get("runs") or {}
    if runs.get("n", 1) < 2 or "std" not in runs:
        return ""
    return f" ± {runs['std']:.2f} (mean of {runs['n']} judge runs, {runs['min']:.2f}–{runs['max']:.2f})"


def repeated_runs(judge: dict[str, Any] | None) -> dict[str, int]:
    """Tasks whose judge scores are means of several runs (task → runs)."""
    runs = (judge or {}).get("runs") or {}
    return {k: v for k, v in runs.items() if v > 1} if isinstance(runs, dict) else {}


def _score_cell(report: dict[str, Any], name: str, metric: dict[str, Any]) -> str:
    text = _fmt(metric["value"]) + _runs_text(metric)
    notes = caveats(report, name, metric) if metric["value"] is not None else []
    return f"{text} ⚠ not a benchmark result: {'; '.join(notes)}" if notes else text


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


def task_table(name: str, task: dict[str, Any], report: dict[str, Any] | None = None) -> str:
    """One Markdown table for one task (with ``report``: caveats next to the numbers they concern)."""
    report = report or {"tasks": {name: task}}
    lines = [f"### {task['title']} (`{name}`, {task['n_items']} items, {task['dataset']['source']})", "",
             "| metric | score | judge | judge prompt | details |", "|---|---:|---|---|---|"]
    for m in task["metrics"]:
        lines.append(f"| {m['label']} | {_score_cell(report, name, m)} | {m.get('judge_model') or '—'} | "
                     f"{m.get('judge_prompt_version') or '—'} | {_details_text(m)} |")
    return "\n".join(lines)


def to_markdown(report: dict[str, Any]) -> str:
    """The Markdown report: a header with the model, decoding and judge, then a table per task."""
    gen = report.get("generation") or {}
    judge = report.get("judge")
    line = f"Greedy decoding, prompt format `{gen.get('prompt_format', '?')}`, batch {gen.get('batch_size', '?')}; "
    if judge:
        line += f"judge `{judge['model']}` (temperature 0, seed 0)"
        line += ", a scripted stand-in, not a model." if judge_is_scripted(judge) else "."
        runs = repeated_runs(judge)
        if runs:
            line += f" Judge runs: {', '.join(f'{k} {v}' for k, v in runs.items())} (mean ± spread)."
    else:
        line += "no judge."
    if report.get("protocol"):
        line += f" Protocol: `{report['protocol']}`."
    head = [f"## Evaluation of `{report['model']}`", "", line, ""]
    withheld = withheld_metrics(report)
    if withheld:
        head += ["**Not benchmark results** (left out of `model-index`): "
                 + "; ".join(f"{w['task']} {w['metric']}: {', '.join(w['caveats'])}" for w in withheld) + ".", ""]
    tables = [task_table(name, task, report) for name, task in report["tasks"].items()]
    return "\n".join(head) + "\n" + "\n\n".join(tables) + "\n"


def short_lines(report: dict[str, Any]) -> list[str]:
    """One line per number (task, metric, value, caveats): the report in a console's space."""
    return [f"{name} · {m['label']}: {_score_cell(report, name, m) if m['value'] is not None else 'skipped'}"
            for name, task in report["tasks"].items() for m in task["metrics"]]


def withheld_metrics(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Numbers that are not benchmark results, with why (see :func:`caveats`)."""
    out = []
    for name, task in report["tasks"].items():
        for m in task["metrics"]:
            notes = caveats(report, name, m) if m["value"] is not None else []
            if notes:
                out.append({"task": name, "metric": m["label"], "caveats": notes})
    return out


def model_index(report: dict[str, Any], include_caveated: bool = False) -> list[dict[str, Any]]:
    """``model-index`` entries for a model card: benchmark results only (see :func:`caveats`), unless
    ``include_caveated``; skipped metrics are always left out (they have no value)."""
    results = []
    for name, task in report["tasks"].items():
        metrics = []
        for m in task["metrics"]:
            if m["value"] is None or (caveats(report, name, m) and not include_caveated):
                continue
            entry: dict[str, Any] = {"type": METRIC_TYPES.get(m["name"], m["name"]), "value": round(m["value"], 2),
                                     "name": m["label"]}
            if m.get("judge_model"):
                entry["name"] = f"{m['label']} (judge {m['judge_model']}, prompt {m['judge_prompt_version']})"
                entry["args"] = {"judge_model": m["judge_model"], "judge_prompt_version": m["judge_prompt_version"]}
                runs = (m.get("details") or {}).get("runs") or {}
                if runs.get("n", 1) > 1 and "std" in runs:
                    entry["args"].update({"judge_runs": runs["n"], "std": round(runs["std"], 2)})
            own = [c for c in caveats(report, name, m) if c not in task_caveats(name, task)]
            if own:  # only with include_caveated: said beside the number it concerns
                entry.setdefault("args", {})["caveats"] = own
            metrics.append(entry)
        if not metrics:
            continue
        dataset: dict[str, Any] = {"name": task["title"], "type": task["dataset"]["id"]}
        if task["dataset"].get("split"):
            dataset["split"] = task["dataset"]["split"]
        if task["dataset"]["source"] != "hub" or task.get("limit") is not None:
            dataset["args"] = {"source": task["dataset"]["source"], "n_items": task["n_items"]}
        notes = task_caveats(name, task)
        if notes:
            dataset.setdefault("args", {})["caveats"] = notes
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
