"""The per-stage funnel of counts every build ends with.

A stage sees ``input`` items and either keeps each one or drops it with a reason, so
``input == kept + sum(dropped.values())`` always holds. Per-task funnels are merged by adding
counts; stage order is the order stages were first recorded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageCounts:
    name: str
    input: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    def keep(self, n: int = 1) -> None:
        self.input += n
        self.kept += n

    def drop(self, reason: str, n: int = 1) -> None:
        self.input += n
        self.dropped[reason] += n

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.name, "input": self.input, "kept": self.kept, "dropped": dict(sorted(self.dropped.items()))}


class Funnel:
    """Ordered stages with keep/drop counts; add with ``+``, check with :meth:`problems`."""

    def __init__(self, stages: list[StageCounts] | None = None):
        self._stages: dict[str, StageCounts] = {}
        for s in stages or []:
            self._stages[s.name] = s

    def stage(self, name: str) -> StageCounts:
        if name not in self._stages:
            self._stages[name] = StageCounts(name)
        return self._stages[name]

    @property
    def stages(self) -> list[StageCounts]:
        return list(self._stages.values())

    def add_counts(self, name: str, counts: dict[str, int]) -> None:
        """Record datatrove-style counters (``input``/``kept``/``dropped_<reason>``) as a stage."""
        s = self.stage(name)
        s.input += counts.get("input", 0)
        s.kept += counts.get("kept", 0)
        for k, v in counts.items():
            if k.startswith("dropped_"):
                s.dropped[k.removeprefix("dropped_")] += v

    def __add__(self, other: Funnel) -> Funnel:
        out = Funnel()
        for src in (self, other):
            for s in src.stages:
                t = out.stage(s.name)
                t.input += s.input
                t.kept += s.kept
                t.dropped.update(s.dropped)
        return out

    def problems(self) -> list[str]:
        """Stages whose counts do not add up (input != kept + dropped); empty when the funnel balances."""
        return [
            f"stage {s.name}: input {s.input} != kept {s.kept} + dropped {s.n_dropped}"
            for s in self.stages
            if s.input != s.kept + s.n_dropped
        ]

    def to_list(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.stages]

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]]) -> Funnel:
        return cls([StageCounts(r["stage"], r["input"], r["kept"], Counter(r.get("dropped", {}))) for r in rows])

    def to_markdown(self) -> str:
        lines = ["| stage | input | kept | dropped (by reason) |", "|---|---:|---:|---|"]
        for s in self.stages:
            reasons = ", ".join(f"{r}: {n:,}" for r, n in sorted(s.dropped.items(), key=lambda kv: (-kv[1], kv[0]))) or "—"
            lines.append(f"| {s.name} | {s.input:,} | {s.kept:,} | {reasons} |")
        return "\n".join(lines)
