"""LLM-as-a-judge on a 1–5 scale (JA-VLM-Bench-In-the-Wild, JA-VG-VQA-500), through the project's
LLM client (:mod:`dataset_builders.llm`): any OpenAI-compatible server, retries, a disk cache (re-runs
are free), a budget, strict JSON answers.

Settings follow eval-mm's judge: temperature 0, seed 0, the question / reference / prediction shown as
text. An empty prediction scores 0 without asking the judge (eval-mm's rule). An answer that is not
``{"score": 1..5}`` is asked again (``max_parse_retries``) and then counted as failed: failed items
are left out of the mean and reported beside it (``n_failed``, by reason) — they say something about
the judge, not the model. Scores move with the judge model and the prompt, so both are recorded with
every score; change :data:`JUDGE_PROMPT_VERSION` whenever the prompt text changes.

The paper averages 5 judge runs (Heron-Bench, JA-VLM-Bench-In-the-Wild): ``runs=N`` asks every
question N times, each run its own cache entry (the run index is part of the cache key), and
:func:`summarize_runs` gives the mean over runs with the spread beside it.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from dataset_builders.llm import LLMConfig, LLMRequest, Message, run_requests

logger = logging.getLogger(__name__)

JUDGE_PROMPT_VERSION = "ja-vila-judge-1to5/v1"
JUDGE_SYSTEM = "You are an expert evaluator."
JUDGE_TEMPLATE = """You are given a question about an image, its correct answer, and a prediction written by an AI assistant. Rate how well the prediction agrees with the correct answer, in the context of the question, on this scale:

5: Excellent - fully correct and relevant; it agrees with the correct answer.
4: Good - mostly correct, with minor inaccuracies or a missing detail.
3: Fair - partly correct, with noticeable errors or missing key points.
2: Poor - mostly wrong or irrelevant, with small correct fragments.
1: Very poor - wrong or irrelevant.

The texts are usually Japanese; judge the content, not the language.
Reply with JSON only: {{"score": <an integer from 1 to 5>}}

Question: {question}
Correct answer: {answer}
Prediction: {prediction}
"""


class JudgeScore(pydantic.BaseModel):
    """The judge's answer: one integer from 1 to 5."""

    score: int = pydantic.Field(ge=1, le=5)


@dataclass
class JudgeSettings:
    """Which judge to ask and how hard to try (the API key comes from the environment, never from here).

    ``provider`` defaults to ``openai_compatible`` when ``base_url`` is given (vLLM, SGLang, a proxy,
    the scripted test server; key optional) and to ``openai`` otherwise (``OPENAI_API_KEY`` required).
    """

    model: str
    base_url: str | None = None
    provider: str | None = None
    api_key_env: str | None = None
    concurrency: int = 8
    timeout_s: float = 120.0
    max_retries: int = 5
    max_parse_retries: int = 2
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_tokens: int = 1024
    max_requests: int | None = None
    cache_dir: str | None = None
    scripted: bool = False  # a scripted stand-in (demo, tests), not a model: its scores are not results

    def llm_config(self) -> LLMConfig:
        provider = self.provider or ("openai_compatible" if self.base_url else "openai")
        return LLMConfig(
            provider=provider, model=self.model, base_url=self.base_url, api_key_env=self.api_key_env,
            concurrency=self.concurrency, timeout_s=self.timeout_s, max_retries=self.max_retries,
            backoff_base_s=self.backoff_base_s, backoff_max_s=self.backoff_max_s,
            max_parse_retries=self.max_parse_retries, response_format="json_schema",
            temperature=0.0, seed=0, max_tokens=self.max_tokens, cache_dir=self.cache_dir,
            max_requests=self.max_requests,
        )

    def check(self) -> None:
        """Fail now (not after generating every answer) when the judge's API key is missing."""
        from dataset_builders.llm.secrets import secret_from_env

        cfg = self.llm_config()
        secret_from_env(cfg.key_env, cfg.provider in ("openai", "azure") or cfg.api_key_env is not None)

    def describe(self) -> dict[str, Any]:
        """What a report records about the judge (no key, no cache path)."""
        return {"model": self.model, "provider": self.provider or ("openai_compatible" if self.base_url else "openai"),
                "base_url": self.base_url, "temperature": 0.0, "seed": 0, "scripted": self.scripted}


@dataclass
class JudgeRun:
    """Per-item judge results: a score, or None where the judge failed (reasons in ``failures``)."""

    scores: list[Any]
    failures: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    cache_hits: int = 0

    @property
    def n_failed(self) -> int:
        return sum(1 for s in self.scores if s is None)


def build_messages(question: str, answer: str, prediction: str) -> list[Message]:
    return [Message.text("system", JUDGE_SYSTEM),
            Message.text("user", JUDGE_TEMPLATE.format(question=question, answer=answer, prediction=prediction))]


@dataclass
class JudgeRuns:
    """The same judgement asked ``len(runs)`` times, and what it cost (HTTP requests, cache hits)."""

    runs: list[JudgeRun]
    requests: int = 0
    cache_hits: int = 0


def ask_judge(requests: Sequence[LLMRequest], settings: JudgeSettings) -> tuple[list[Any], Counter[str], int, int]:
    """Send ``requests`` through the project's client; (values or None, failure reasons, requests, cache hits)."""
    (values, failures), requests_sent, hits = ask_judge_runs(requests, settings, 1)
    return values[0], failures[0], requests_sent, hits


def ask_judge_runs(requests: Sequence[LLMRequest], settings: JudgeSettings,
              runs: int) -> tuple[tuple[list[list[Any]], list[Counter[str]]], int, int]:
    """Every request asked ``runs`` times in one batch; per run: values (None: failed) and failure reasons."""
    if not requests:
        return ([[] for _ in range(runs)], [Counter() for _ in range(runs)]), 0, 0
    batch = [dataclasses.replace(r, run=k, label=f"{r.label}#{k}" if k else r.label)
             for k in range(runs) for r in requests]
    results, usage = run_requests(settings.llm_config(), batch, cache_dir=settings.cache_dir)
    n = len(requests)
    values: list[list[Any]] = []
    failures: list[Counter[str]] = []
    for k in range(runs):
        run_values, run_failures = [], Counter()
        for r in results[k * n:(k + 1) * n]:
            run_values.append(r.value if r.ok else None)
            if not r.ok:
                run_failures[r.reason or r.status] += 1
        values.append(run_values)
        failures.append(run_failures)
    bad = sum(sum(c.values()) for c in failures)
    if bad:
        logger.warning("judge %s: %d of %d answers unusable after retries (%s)", settings.model, bad, len(results),
                       dict(sum(failures, Counter())))
    return (values, failures), usage.requests, usage.cache_hits


def judge_score_runs(
    questions: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
    settings: JudgeSettings,
    labels: Sequence[str] | None = None,
    runs: int = 1,
) -> JudgeRuns:
    """:func:`judge_scores` asked ``runs`` times (the judge is called ``runs`` times per non-empty answer)."""
    if not len(questions) == len(references) == len(predictions):
        raise ValueError("questions, references and predictions must have the same length")
    if runs < 1:
        raise ValueError(f"judge runs must be at least 1, got {runs}")
    labels = list(labels) if labels is not None else [str(i) for i in range(len(questions))]
    todo = [i for i, p in enumerate(predictions) if p.strip()]
    requests = [LLMRequest(build_messages(questions[i], references[i], predictions[i]), JudgeScore,
                           label=f"judge:{labels[i]}") for i in todo]
    (values, failures), n_requests, hits = ask_judge_runs(requests, settings, runs)
    out = []
    for run_values, run_failures in zip(values, failures, strict=True):
        scores: list[Any] = [0 if not p.strip() else None for p in predictions]
        for i, value in zip(todo, run_values, strict=True):
            scores[i] = value.score if value is not None else None
        out.append(JudgeRun(scores, run_failures))
    return JudgeRuns(out, n_requests, hits)


def judge_scores(
    questions: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
    settings: JudgeSettings,
    labels: Sequence[str] | None = None,
) -> JudgeRun:
    """Score every prediction 1–5 against its reference (0 for an empty prediction, None if the judge failed)."""
    asked = judge_score_runs(questions, references, predictions, settings, labels, runs=1)
    run = asked.runs[0]
    run.requests, run.cache_hits = asked.requests, asked.cache_hits
    return run


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Mean of per-run values with the spread a reader needs (population std, min, max, every value)."""
    return {"n": len(values), "mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "min": min(values), "max": max(values), "values": list(values)}


def summarize(run: JudgeRun) -> dict[str, Any]:
    """Mean over the items the judge scored, with the counts a reader needs to trust it."""
    scored = [s for s in run.scores if s is not None]
    return {
        "value": sum(scored) / len(scored) if scored else None,
        "n_scored": len(scored),
        "n_failed": run.n_failed,
        "failures": dict(run.failures),
        "judge_requests": run.requests,
        "judge_cache_hits": run.cache_hits,
    }


def summarize_runs(asked: JudgeRuns) -> dict[str, Any]:
    """:func:`summarize` over several runs: the mean of the per-run means, the spread in ``runs``."""
    summaries = [summarize(r) for r in asked.runs]
    values = [s["value"] for s in summaries if s["value"] is not None]
    failures = sum((Counter(s["failures"]) for s in summaries), Counter())
    out = {"value": statistics.fmean(values) if values else None,
           "n_scored": sum(s["n_scored"] for s in summaries), "n_failed": sum(s["n_failed"] for s in summaries),
           "failures": dict(failures), "judge_requests": asked.requests, "judge_cache_hits": asked.cache_hits}
    if len(asked.runs) > 1:
        out["runs"] = spread(values) if values else {"n": len(asked.runs), "values": []}
    return out


def cache_dir_for(out_dir: str | Path) -> str:
    """Where judge answers are cached under an eval output folder (re-runs cost nothing)."""
    return str(Path(out_dir) / "judge_cache")
