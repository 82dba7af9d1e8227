"""The agents (proposer, refiner, annotator): each its own OpenAI-compatible backend, all sharing
one run-wide budget and the answer cache.

Each call opens a client (``dataset_builders.llm.LLMClient``) whose budget is replaced by the shared
one, so ``budget.max_requests`` caps the whole run; cached answers are free, so a re-run after a
budget stop continues where it stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dataset_builders.llm import LLMClient, LLMConfig, LLMRequest, LLMResult, Message
from dataset_builders.llm.budget import Budget

logger = logging.getLogger(__name__)


class BudgetExhausted(RuntimeError):
    """The run-wide budget is spent: the current generation cannot finish."""


class Agent:
    """One role on one backend. ``ask`` returns results in order; usage is summed over calls."""

    def __init__(self, role: str, config: LLMConfig, cache_dir: Path, budget: Budget, system: str = ""):
        self.role = role
        self.config = config
        self.cache_dir = cache_dir
        self.budget = budget
        self.system = system
        self.usage: dict[str, Any] = {"requests": 0, "cache_hits": 0, "tokens_in": 0, "tokens_out": 0,
                                      "ok": 0, "failed": 0}

    def request(self, text: str, schema: type, label: str, images: Sequence[bytes] = ()) -> LLMRequest:
        from dataset_builders.llm import ImagePart

        messages = [Message.text("system", self.system)] if self.system else []
        messages.append(Message("user", [*(ImagePart(b) for b in images), text]))
        return LLMRequest(messages, schema, label=f"{self.role}:{label}")

    def ask(self, requests: Sequence[LLMRequest], seed_offset: int = 0) -> list[LLMResult]:
        """Run ``requests``; ``seed_offset`` shifts the sampling seed (k independent annotations).

        Raises :class:`BudgetExhausted` when any request was refused for the budget."""
        if not requests:
            return []
        config = self.config
        if seed_offset and config.seed is not None:
            config = dataclasses.replace(config, seed=config.seed + seed_offset)

        async def _run() -> tuple[list[LLMResult], Any]:
            async with LLMClient(config, cache_dir=self.cache_dir) as client:
                client.budget = self.budget
                return await client.complete_many(list(requests)), client.usage

        results, usage = asyncio.run(_run())
        self.usage["requests"] += usage.requests
        self.usage["cache_hits"] += usage.cache_hits
        self.usage["tokens_in"] += usage.tokens_in
        self.usage["tokens_out"] += usage.tokens_out
        self.usage["ok"] += sum(r.ok for r in results)
        self.usage["failed"] += sum(not r.ok for r in results)
        if any(r.status == "budget_exhausted" for r in results):
            raise BudgetExhausted(f"{self.role}: the run's LLM budget is spent")
        for r in results:
            if not r.ok:
                logger.warning("%s: %s (%s) %s", r.label, r.status, r.reason, r.detail)
        return results


def make_budget(max_requests: int | None, max_total_tokens: int | None) -> Budget:
    return Budget(max_requests, max_total_tokens)
