"""Evaluation protocols: a named set of judge settings that reproduces a published evaluation.

``paper`` is how the LLM-jp-3 VILA paper evaluated: gpt-4o-2024-05-13 as the judge (Azure OpenAI in
the paper; the same model through any OpenAI-compatible endpoint here), temperature 0, seed 0, and
the judge scores of Japanese Heron-Bench and JA-VLM-Bench-In-the-Wild averaged over 5 judge runs.
Greedy decoding and each task's ``max_new_tokens`` are the defaults already.

    ja-vila eval --model out/step2 --protocol paper --out eval-out
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataset_builders.errors import UserInputError


@dataclass(frozen=True)
class Protocol:
    """What a protocol fixes; anything given explicitly on the command line still wins (and is recorded)."""

    name: str
    judge_model: str
    judge_runs: dict[str, int] = field(default_factory=dict)  # task → runs (others: 1)
    note: str = ""


PROTOCOLS: dict[str, Protocol] = {
    "paper": Protocol(
        name="paper",
        judge_model="gpt-4o-2024-05-13",
        judge_runs={"heron_bench": 5, "ja_vlm_bench_in_the_wild": 5},
        note="LLM-jp-3 VILA paper: judge gpt-4o-2024-05-13 (Azure OpenAI), temperature 0, seed 0, "
             "mean of 5 judge runs for Heron-Bench and JA-VLM-Bench-In-the-Wild",
    ),
}


def get_protocol(name: str) -> Protocol:
    """A protocol by name; the error lists the known ones."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise UserInputError(f"--protocol {name!r}: unknown; known: {', '.join(sorted(PROTOCOLS))}") from None


def judge_runs_for(tasks: list[str], protocol: Protocol | None, runs: int | None) -> dict[str, int]:
    """Judge runs per task: ``runs`` for every task when given, else the protocol's, else 1."""
    if runs is not None and runs < 1:
        raise UserInputError(f"--judge-runs {runs}: must be at least 1")
    return {t: runs if runs is not None else (protocol.judge_runs.get(t, 1) if protocol else 1) for t in tasks}
