"""Applies a task's metrics to its items and the model's answers.

Metric names a task may list: ``rougel`` (eval-mm Japanese ROUGE-L), ``llm_judge`` (1–5 judge),
``heron_judge`` (Heron-Bench relative score) and ``vqa_accuracy``. Judge metrics need a judge; without
one they are recorded as skipped (with the reason), never silently dropped.
"""

from __future__ import annotations

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


def _rougel(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None) -> MetricResult:
    scores = rouge_ja.rouge_l_scores([it.reference for it in items], preds)
    return MetricResult("rougel", "ROUGE-L (eval-mm, MeCab)", rouge_ja.mean(scores), {"n": len(scores)},
                        per_item=scores)


def _vqa(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None) -> MetricResult:
    scores = [vqa_accuracy.vqa_accuracy(p, it.answers) for it, p in zip(items, preds, strict=True)]
    value = 100.0 * sum(scores) / len(scores) if scores else None
    return MetricResult("vqa_accuracy", "VQA accuracy (%)", value, {"n": len(scores)}, per_item=scores)


def _llm_judge(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None) -> MetricResult:
    label = "LLM judge (1-5)"
    if settings is None:
        return MetricResult("llm_judge", label, None, skipped="no judge (pass --judge MODEL)")
    run = judge.judge_scores([it.question for it in items], [it.reference for it in items], preds, settings,
                             labels=[it.id for it in items])
    summary = judge.summarize(run)
    value = summary.pop("value")
    return MetricResult("llm_judge", label, value, summary, judge_model=settings.model,
                        judge_prompt_version=judge.JUDGE_PROMPT_VERSION, per_item=run.scores)


def _heron(items: Sequence[EvalItem], preds: Sequence[str], settings: judge.JudgeSettings | None) -> MetricResult:
    label = "Heron-Bench relative score"
    if settings is None:
        return MetricResult("heron_relative", label, None, skipped="no judge (pass --judge MODEL)")
    run = heron.judge_pairs([it.context or "" for it in items], [it.question for it in items],
                            [it.reference for it in items], preds, settings, labels=[it.id for it in items])
    details = heron.relative_scores([it.category or "" for it in items], run.scores)
    value = details.pop("overall_rel")
    details.update({"failures": dict(run.failures), "judge_requests": run.requests, "judge_cache_hits": run.cache_hits})
    return MetricResult("heron_relative", label, value, details, judge_model=settings.model,
                        judge_prompt_version=heron.HERON_PROMPT_VERSION,
                        per_item=[list(p) if p is not None else None for p in run.scores])


METRICS: dict[str, Callable[[Sequence[EvalItem], Sequence[str], judge.JudgeSettings | None], MetricResult]] = {
    "rougel": _rougel,
    "llm_judge": _llm_judge,
    "heron_judge": _heron,
    "vqa_accuracy": _vqa,
}


def score(metric_names: Sequence[str], items: Sequence[EvalItem], predictions: Sequence[str],
          settings: judge.JudgeSettings | None) -> list[MetricResult]:
    """Every metric of a task, in the task's order."""
    if len(items) != len(predictions):
        raise ValueError(f"{len(items)} items but {len(predictions)} predictions")
    unknown = [m for m in metric_names if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {sorted(METRICS)}")
    return [METRICS[m](items, predictions, settings) for m in metric_names]
