"""``ja-vila eval``: load the tasks, answer every item with the model, score, write the report.

    ja-vila eval --model out/llm-jp-3-vila --tasks heron_bench,ja_vlm_bench_in_the_wild,ja_vg_vqa_500,textvqa \\
        --judge gpt-4o-2024-05-13 --out eval-out

Outputs under ``--out``: ``predictions/<task>.jsonl`` (prompt, answer, reference and per-item
scores), ``report.json`` / ``report.md`` / ``model-index.yaml`` (:mod:`eval.report`) and
``judge_cache/`` (judge answers; a re-run asks the judge nothing new).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataset_builders.atomic import atomic_write_text
from dataset_builders.errors import UserInputError, check_local_or_hub
from eval import report as report_mod
from eval.metrics.heron import HERON_PROMPT_VERSION
from eval.metrics.judge import JUDGE_PROMPT_VERSION, JudgeSettings, cache_dir_for
from eval.runner import GenerationSettings, VLMRunner
from eval.scoring import MetricResult, score
from eval.tasks import EvalItem, Task, get_task
from eval.tasks.base import fixture_note

logger = logging.getLogger(__name__)

DEFAULT_TASKS = ("heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500", "textvqa")


@dataclass
class EvalConfig:
    """What to evaluate and where the results go.

    ``data`` maps a task name to a local folder (or another Hub dataset id) to read instead of the
    task's Hub dataset — the way to run offline; ``limit`` keeps the first N items of every task
    (quick checks); ``judge_runs`` asks the judge N times per item for a task (default 1) and
    reports the mean and the spread; ``protocol`` names the preset the settings came from.
    """

    model: str
    out_dir: Path
    tasks: Sequence[str] = DEFAULT_TASKS
    judge: JudgeSettings | None = None
    limit: int | None = None
    data: dict[str, str] = field(default_factory=dict)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    model_name: str | None = None
    judge_runs: dict[str, int] = field(default_factory=dict)
    protocol: str | None = None


def parse_tasks(text: str) -> list[str]:
    """``"a,b , c"`` → ``["a", "b", "c"]``, each checked against the registry."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserInputError("no tasks given")
    for n in names:
        get_task(n)
    return names


def _prediction_rows(items: Sequence[EvalItem], preds: Sequence[str], metrics: Sequence[MetricResult]) -> str:
    import json

    lines = []
    for i, (it, p) in enumerate(zip(items, preds, strict=True)):
        row: dict[str, Any] = {"id": it.id, "question": it.question, "prompt": it.prompt, "prediction": p}
        if it.reference:
            row["reference"] = it.reference
        if it.answers:
            row["answers"] = it.answers
        if it.category:
            row["category"] = it.category
        row["scores"] = {m.name: m.per_item[i] for m in metrics if m.per_item}
        lines.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _dataset_info(task: Task, source: str | None) -> dict[str, Any]:
    if source is not None and Path(source).expanduser().is_dir():
        info = {"id": task.hub_id, "source": f"local folder {Path(source).name}", "split": None}
        note = fixture_note(source)
        return {**info, "fixture": note} if note else info
    return {"id": source or task.hub_id, "source": "hub", "split": task.hub_split}


def evaluate(config: EvalConfig, runner: VLMRunner | None = None) -> dict[str, Any]:
    """Run the evaluation described by ``config``; returns the report (also written to ``out_dir``)."""
    out = Path(config.out_dir)
    tasks = {name: get_task(name) for name in config.tasks}
    unknown = set(config.data) - set(tasks)
    if unknown:
        raise UserInputError(f"--data names tasks that are not evaluated: {sorted(unknown)}")
    judge = config.judge
    if judge is not None:
        judge.check()
    if judge is not None and judge.cache_dir is None:
        judge = JudgeSettings(**{**judge.__dict__, "cache_dir": cache_dir_for(out)})
    check_local_or_hub(config.model, "--model")
    # read every task first: a bad folder should fail before minutes of model loading
    loaded = {name: task.load(config.data.get(name), config.limit) for name, task in tasks.items()}
    runner = runner or VLMRunner(config.model, config.generation)
    results: dict[str, Any] = {}
    for name, task in tasks.items():
        items = loaded[name]
        t0 = time.monotonic()
        max_new = config.generation.max_new_tokens or task.max_new_tokens
        logger.info("%s: %d items, up to %d new tokens each", name, len(items), max_new)
        preds = runner.generate(items, max_new, label=name)
        gen_s = time.monotonic() - t0
        pred_path = out / "predictions" / f"{name}.jsonl"
        pred_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(pred_path, _prediction_rows(items, preds, []))  # kept even if the judge fails
        metrics = score(task.metrics, items, preds, judge, judge_runs=config.judge_runs.get(name, 1))
        atomic_write_text(pred_path, _prediction_rows(items, preds, metrics))
        results[name] = {
            "title": task.title, "task_type": task.task_type, "task_label": task.task_label,
            "dataset": _dataset_info(task, config.data.get(name)), "n_items": len(items), "limit": config.limit,
            "metrics": [m.to_dict() for m in metrics], "predictions": str(pred_path.relative_to(out)),
            "seconds": {"generate": round(gen_s, 2), "total": round(time.monotonic() - t0, 2)},
        }
        logger.info("%s: %s", name, ", ".join(f"{m.name}={m.value:.2f}" if m.value is not None else f"{m.name} skipped"
                                             for m in metrics))
    gen = config.generation.describe()
    gen["prompt_format"] = runner.format
    report: dict[str, Any] = {
        "schema": "ja-vila-eval/1",
        "model": config.model,
        "model_name": config.model_name or Path(config.model).name or config.model,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "generation": gen,
        "protocol": config.protocol,
        "judge": ({**judge.describe(), "prompt_versions": {"llm_judge": JUDGE_PROMPT_VERSION,
                                                          "heron_judge": HERON_PROMPT_VERSION},
                   "runs": {name: config.judge_runs.get(name, 1) for name in tasks}}
                  if judge is not None else None),
        "tasks": results,
    }
    report["model-index"] = report_mod.model_index(report)
    report_mod.write_report(out, report)
    return report
