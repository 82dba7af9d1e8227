"""Applies a task's metrics to its items and the model's answers.

Metric names a task may list: ``rougel`` (eval-mm Japanese ROUGE-L), ``llm_judge`` (1–5 judge),
``heron_judge`` (Heron-Bench relative score) and ``vqa_accuracy``. Judge metrics need a judge; without
one they are recorded as skipped (with the reason), never silently dropped. They can be asked several
times (``judge_runs``, the paper's 5): the value is the mean over runs, the spread is in
``details["runs"]``.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from eval.metrics import heron, judge, rouge_ja, vqa_accuracy
from eval.tasks.base import EvalItem


@dataclass
class MetricResult:
    """One number for a task, with what it needs to be read correctly."""

    name: str
    label: str
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)
    judge_model: str | None = None
    judge_prompt_version: str | None = None
    skipped: str | None = None
    per_item: list[Any] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("per_item")
        return d


def _rougel(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None,
            runs: int = 1) -> MetricResult:
    scores = rouge_ja.rouge_l_scores([it.reference for it in items], preds)
    return MetricResult("rougel", "ROUGE-L (eval-mm, MeCab)", rouge_ja.mean(scores), {"n": len(scores)},
                        per_item=scores)


def _vqa(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None,
         runs: int = 1) -> MetricResult:
    scores = [vqa_accuracy.vqa_accuracy(p, it.answers) for it, p in zip(items, preds, strict=True)]
    value = 100.0 * sum(scores) / len(scores) if scores else None
    return MetricResult("vqa_accuracy", "VQA accuracy (%)", value, {"n": len(scores)}, per_item=scores)


def _per_item(runs: list[judge.JudgeRun], convert=lambda s: s) -> list[Any]:
    """One run: the item's score; several: the item's score in each run."""
    if len(runs) == 1:
        return [convert(s) for s in runs[0].scores]
    return [[convert(r.scores[i]) for r in runs] for i in range(len(runs[0].scores))]


def _llm_judge(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None,
               runs: int = 1) -> MetricResult:
    label = "LLM judge (1-5)"
    if settings is None:
        return MetricResult("llm_judge", label, None, skipped="no judge (pass --judge MODEL)")
    asked = judge.judge_score_runs([it.question for it in items], [it.reference for it in items], preds, settings,
                                   labels=[it.id for it in items], runs=runs)
    summary = judge.summarize_runs(asked)
    value = summary.pop("value")
    return MetricResult("llm_judge", label, value, summary, judge_model=settings.model,
                        judge_prompt_version=judge.JUDGE_PROMPT_VERSION, per_item=_per_item(asked.runs))


def _mean_over_runs(per_run: list[dict[str, Any]]) -> dict[str, Any]:
    """Heron details of several runs: scores averaged, item counts of the best-scored run, unscored summed."""
    if len(per_run) == 1:
        return dict(per_run[0])
    out: dict[str, Any] = {}
    for key in per_run[0]:
        values = [d[key] for d in per_run]
        if key == "parse_error_count":
            out[key] = sum(values)
        elif key.endswith("_n"):
            out[key] = max(values)
        else:
            out[key] = statistics.fmean(values) if all(v is not None for v in values) else None
    return out


def _heron(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None,
           runs: int = 1) -> MetricResult:
    label = "Heron-Bench relative score"
    if settings is None:
        return MetricResult("heron_relative", label, None, skipped="no judge (pass --judge MODEL)")
    asked = heron.judge_pair_runs([it.context or "" for it in items], [it.question for it in items],
                                  [it.reference for it in items], preds, settings, labels=[it.id for it in items],
                                  runs=runs)
    categories = [it.category or "" for it in items]
    per_run = [heron.relative_scores(categories, r.scores) for r in asked.runs]
    details = _mean_over_runs(per_run)
    value = details.pop("overall_rel")
    failures = sum((r.failures for r in asked.runs), Counter())
    details.update({"failures": dict(failures), "judge_requests": asked.requests, "judge_cache_hits": asked.cache_hits})
    if runs > 1:
        details["runs"] = judge.spread([d["overall_rel"] for d in per_run])
    return MetricResult("heron_relative", label, value, details, judge_model=settings.model,
                        judge_prompt_version=heron.HERON_PROMPT_VERSION,
                        per_item=_per_item(asked.runs, lambda p: list(p) if p is not None else None))


METRICS: dict[str, Callable[..., MetricResult]] = {
    "rougel": _rougel,
    "llm_judge": _llm_judge,
    "heron_judge": _heron,
    "vqa_accuracy": _vqa,
}
#: Metrics that ask the judge (``runs`` repeats them; the others are deterministic).
JUDGE_METRICS = ("llm_judge", "heron_judge")


def score(metric_names: Sequence[str], items: Sequence[EvalItem], predictions: Sequence[str],
          settings: judge.JudgeSettings | None, judge_runs: int = 1) -> list[MetricResult]:
    """Every metric of a task, in the task's order; judge metrics asked ``judge_runs`` times and averaged."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    unknown = [m for m in metric_names if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    return [METRICS[m](items, predictions, settings, judge_runs if m in JUDGE_METRICS else 1) for m in metric_names]
