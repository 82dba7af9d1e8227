"""The diversity guard: an archive of accepted tasks; a new task whose instruction is too close to
an accepted one is rejected (and the proposer asked again), and a diversity figure per generation.

Similarity in [0, 1]: Japanese ROUGE-L F1 (``eval.metrics.rouge_ja``, MeCab tokens) or the cosine
of character 1–3-gram count vectors (no model needed; a stand-in for sentence embeddings).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

from ja_vila.evolve.schemas import ProposedTask


def _ngrams(text: str) -> Counter[str]:
    text = "".join(unicodedata.normalize("NFKC", text).lower().split())
    return Counter(text[i:i + n] for n in (1, 2, 3) for i in range(len(text) - n + 1))


def char_ngram_cosine(a: str, b: str) -> float:
    va, vb = _ngrams(a), _ngrams(b)
    dot = sum(v * vb[k] for k, v in va.items())
    na, nb = math.sqrt(sum(v * v for v in va.values())), math.sqrt(sum(v * v for v in vb.values()))
    return dot / (na * nb) if na and nb else 0.0


def rouge_l_similarity(a: str, b: str) -> float:
    from eval.metrics.rouge_ja import rouge_l

    return rouge_l(a, b) / 100.0


def similarity(a: str, b: str, method: str = "rouge_l") -> float:
    if method == "rouge_l":
        return rouge_l_similarity(a, b)
    if method == "char_ngram_cosine":
        return char_ngram_cosine(a, b)
    raise ValueError(f"unknown similarity method {method!r}")


@dataclass
class Decision:
    task: ProposedTask
    accepted: bool
    closest: str | None = None
    similarity: float = 0.0


@dataclass
class TaskArchive:
    """Accepted tasks over all generations (rebuilt from finished generations on resume)."""

    method: str = "rouge_l"
    threshold: float = 0.7
    tasks: list[ProposedTask] = field(default_factory=list)

    def closest(self, task: ProposedTask, extra: Sequence[ProposedTask] = ()) -> tuple[str | None, float]:
        best, best_sim = None, 0.0
        for other in [*self.tasks, *extra]:
            s = similarity(task.instruction, other.instruction, self.method)
            if task.name.strip() == other.name.strip():
                s = max(s, 1.0)
            if s > best_sim:
                best, best_sim = other.name, s
        return best, best_sim

    def screen(self, proposals: Sequence[ProposedTask], want: int) -> list[Decision]:
        """Decide each proposal in order against the archive and the ones accepted before it (up
        to ``want`` accepted; the rest are not looked at). Accepted tasks are *not* added yet."""
        accepted: list[ProposedTask] = []
        decisions = []
        for task in proposals:
            if len(accepted) >= want:
                break
            name, sim = self.closest(task, accepted)
            ok = sim < self.threshold and bool(task.instruction.strip()) and bool(task.name.strip())
            decisions.append(Decision(task, ok, name, round(sim, 4)))
            if ok:
                accepted.append(task)
        return decisions

    def add(self, tasks: Sequence[ProposedTask]) -> None:
        self.tasks.extend(tasks)


def diversity(tasks: Sequence[ProposedTask], method: str = "rouge_l") -> float:
    """1 − mean pairwise similarity of the instructions (1.0 for fewer than two tasks)."""
    pairs = list(combinations(tasks, 2))
    if not pairs:
        return 1.0
    return 1.0 - sum(similarity(a.instruction, b.instruction, method) for a, b in pairs) / len(pairs)
