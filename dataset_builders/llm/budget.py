"""A spending limit for one run: at most N requests and/or T tokens.

Checked before every request (retries included). When spent, no new request starts; requests
already in flight finish and are kept. The first refusal logs one clear WARNING; every refused
request is counted as ``budget_exhausted``.
"""

from __future__ import annotations

import logging
import threading

from dataset_builders.errors import UserInputError

logger = logging.getLogger(__name__)


class Budget:
    def __init__(self, max_requests: int | None = None, max_total_tokens: int | None = None):
        if max_requests is not None and max_requests < 0:
            raise UserInputError("max_requests must be >= 0")
        if max_total_tokens is not None and max_total_tokens < 0:
            raise UserInputError("max_total_tokens must be >= 0")
        self.max_requests = max_requests
        self.max_total_tokens = max_total_tokens
        self.requests = 0
        self.tokens = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._announced = False

    @property
    def exhausted(self) -> bool:
        return (self.max_requests is not None and self.requests >= self.max_requests) or (
            self.max_total_tokens is not None and self.tokens >= self.max_total_tokens
        )

    def try_acquire(self) -> bool:
        """Reserve one request; False (and counted) when the budget is spent."""
        with self._lock:
            if self.exhausted:
                self.refused += 1
                if not self._announced:
                    self._announced = True
                    logger.warning(
                        "LLM budget exhausted (%d/%s requests, %d/%s tokens): no new requests are sent; "
                        "everything finished so far is kept. Raise llm.max_requests / llm.max_total_tokens "
                        "and re-run to continue (answers so far come from the cache).",
                        self.requests, self.max_requests, self.tokens, self.max_total_tokens,
                    )
                return False
            self.requests += 1
            return True

    def add_tokens(self, n: int) -> None:
        with self._lock:
            self.tokens += n
