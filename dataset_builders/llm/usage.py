"""What a run cost: requests, cache hits, tokens, failures by reason, and an estimated price."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class UsageReport:
    model: str = ""
    requests: int = 0  # HTTP requests sent (every retry counts)
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    ok: int = 0  # calls that ended with a parsed answer (fresh or cached)
    retries: int = 0
    budget_exhausted: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # final outcome of a call, by reason
    attempt_errors: Counter[str] = field(default_factory=Counter)  # every failed attempt, by reason
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None

    @property
    def estimated_cost_usd(self) -> float | None:
        if self.price_input_per_mtok is None and self.price_output_per_mtok is None:
            return None
        return round(
            self.tokens_in * (self.price_input_per_mtok or 0.0) / 1e6
            + self.tokens_out * (self.price_output_per_mtok or 0.0) / 1e6,
            6,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "ok": self.ok,
            "retries": self.retries,
            "budget_exhausted": self.budget_exhausted,
            "failures": dict(sorted(self.failures.items())),
            "attempt_errors": dict(sorted(self.attempt_errors.items())),
            "estimated_cost_usd": self.estimated_cost_usd,
        }

    def summary(self) -> str:
        cost = self.estimated_cost_usd
        failures = ", ".join(f"{k}: {v}" for k, v in sorted(self.failures.items())) or "none"
        return (
            f"LLM usage ({self.model}): {self.requests} requests, {self.cache_hits} cache hits, "
            f"{self.tokens_in} tokens in / {self.tokens_out} out, {self.ok} ok, failures: {failures}, "
            f"budget_exhausted: {self.budget_exhausted}"
            + (f", estimated cost ${cost:.4f}" if cost is not None else "")
        )
