"""Heron-Bench's relative score: the judge rates the reference answer (Assistant 1) and the model's
answer (Assistant 2) side by side, 1–10 each, seeing the image description (``context``) instead of
the image; per category ``100 × mean(model) / mean(reference)``; the headline score is the mean over
``conv``, ``detail`` and ``complex``.

Two ways in:

* live, through the project's LLM client: the judge answers JSON (``score_assistant_1``,
  ``score_assistant_2``, ``explanation``), so a malformed answer is asked again and then counted;
* from existing review files in the LLaVA / Heron format (``content`` starting ``"7 6\\n…"``): see
  :func:`parse_score_pair` and :func:`relative_scores_from_reviews`.

An item the judge could not score is left out of both means and counted (``parse_error_count``, as
eval-mm names it); a category with no scored item gets 0 (eval-mm does the same). An empty model
answer scores 0 while its reference is still rated, so it pulls the category down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pydantic

from dataset_builders.llm import LLMRequest, Message
from eval.metrics.judge import JudgeRun, JudgeRuns, JudgeSettings, ask_judge_runs

HERON_PROMPT_VERSION = "ja-vila-heron-bench/v1"
CATEGORIES = ("conv", "detail", "complex")
HERON_SYSTEM = "You are a helpful and precise assistant for checking the quality of the answer."
# Heron-Bench's review rule (turingmotors/heron, Apache-2.0), asking for JSON instead of a first line
# "s1 s2" so that the project's client can check the answer and ask again when it does not fit.
HERON_RULE = (
    "We would like to request your feedback on the performance of two AI assistants in response to the user "
    "question displayed above. The user asks the question on observing an image. For your reference, the visual "
    "content in the image is represented with a few sentences describing the image.\n"
    "Please rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant "
    "receives an overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\n"
    "Reply with JSON only: {\"score_assistant_1\": <integer 1-10>, \"score_assistant_2\": <integer 1-10>, "
    "\"explanation\": \"<a comprehensive explanation of your evaluation>\"}. Avoid any potential bias and make "
    "sure that the order in which the responses were presented does not affect your judgment. Sentences are "
    "given in Japanese, and language is not relevant to score."
)


class HeronReview(pydantic.BaseModel):
    """The judge's answer: Assistant 1 is the reference answer, Assistant 2 the evaluated model."""

    score_assistant_1: int = pydantic.Field(ge=1, le=10)
    score_assistant_2: int = pydantic.Field(ge=1, le=10)
    explanation: str


def build_messages(context: str, question: str, reference: str, prediction: str) -> list[Message]:
    content = (f"[Context]\n{context}\n\n[Question]\n{question}\n\n"
               f"[Assistant 1]\n{reference}\n\n[End of Assistant 1]\n\n"
               f"[Assistant 2]\n{prediction}\n\n[End of Assistant 2]\n\n[System]\n{HERON_RULE}\n\n")
    return [Message.text("system", HERON_SYSTEM), Message.text("user", content)]


def parse_score_pair(review: str) -> tuple[float, float] | None:
    """The two scores on the first line of a LLaVA / Heron review (``"7 6\\n…"``, ``"8, 9"``), else None.

    Like LLaVA's ``parse_score`` (commas count as spaces, exactly two numbers), but runs of spaces are
    one separator, so ``"7, 6"`` parses where LLaVA's ``split(" ")`` gave up.
    """
    if not review:
        return None
    parts = review.split("\n", 1)[0].replace(",", " ").split()
    if len(parts) != 2:
        return None
    try:
        pair = (float(parts[0]), float(parts[1]))
    except ValueError:
        return None
    return pair if all(math.isfinite(x) for x in pair) else None


def relative_scores(categories: Sequence[str], pairs: Sequence[tuple[float, float] | None]) -> dict[str, Any]:
    """Per-category and overall relative scores from (reference score, model score) pairs (None: unscored)."""
    if len(categories) != len(pairs):
        raise ValueError(f"{len(categories)} categories but {len(pairs)} score pairs")
    out: dict[str, Any] = {}
    for cat in CATEGORIES:
        scored = [p for c, p in zip(categories, pairs, strict=True) if c == cat and p is not None]
        out[f"{cat}_n"] = len(scored)
        if not scored:
            out[cat], out[f"{cat}_reference"], out[f"{cat}_rel"] = None, None, 0.0
            continue
        model = sum(p[1] for p in scored) / len(scored)
        reference = sum(p[0] for p in scored) / len(scored)
        out[cat], out[f"{cat}_reference"] = model, reference
        out[f"{cat}_rel"] = 100.0 * model / max(0.01, reference)  # eval-mm's guard against 0
    out["parse_error_count"] = sum(1 for p in pairs if p is None)
    out["overall_rel"] = sum(out[f"{c}_rel"] for c in CATEGORIES) / len(CATEGORIES)
    return out


def relative_scores_from_reviews(reviews: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Heron scores from existing review records (``category`` + ``content`` in the LLaVA/Heron format)."""
    categories, pairs = [], []
    for r in reviews:
        categories.append(r["category"])
        pairs.append(parse_score_pair(r.get("content") or ""))
    return relative_scores(categories, pairs)


def judge_pair_runs(
    contexts: Sequence[str],
    questions: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
    settings: JudgeSettings,
    labels: Sequence[str] | None = None,
    runs: int = 1,
) -> JudgeRuns:
    """:func:`judge_pairs` asked ``runs`` times (the paper averages 5 judge runs), each run cached apart."""
    n = len(questions)
    if not len(contexts) == len(references) == len(predictions) == n:
        raise ValueError("contexts, questions, references and predictions must have the same length")
    if runs < 1:
        raise ValueError(f"judge runs must be at least 1, got {runs}")
    labels = list(labels) if labels is not None else [str(i) for i in range(n)]
    requests = [LLMRequest(build_messages(contexts[i], questions[i], references[i], predictions[i]), HeronReview,
                           label=f"heron:{labels[i]}") for i in range(n)]
    (values, failures), n_requests, hits = ask_judge_runs(requests, settings, runs)
    out = []
    for run_values, run_failures in zip(values, failures, strict=True):
        pairs: list[Any] = []
        for value, prediction in zip(run_values, predictions, strict=True):
            if value is None:
                pairs.append(None)
            else:  # an empty answer scores 0; its reference's score still counts
                model = 0.0 if not prediction.strip() else float(value.score_assistant_2)
                pairs.append((float(value.score_assistant_1), model))
        out.append(JudgeRun(pairs, run_failures))
    return JudgeRuns(out, n_requests, hits)


def judge_pairs(
    contexts: Sequence[str],
    questions: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
    settings: JudgeSettings,
    labels: Sequence[str] | None = None,
) -> JudgeRun:
    """Ask the judge for (reference score, model score) per item; a pair or None (judge failed)."""
    asked = judge_pair_runs(contexts, questions, references, predictions, settings, labels, runs=1)
    run = asked.runs[0]
    run.requests, run.cache_hits = asked.requests, asked.cache_hits
    return run
