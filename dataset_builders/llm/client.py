"""The LLM client: OpenAI, Azure OpenAI, vLLM and SGLang through the ``openai`` SDK, with our own
retry policy, bounded concurrency, a disk cache, a budget and strict structured outputs.

    async with LLMClient(config, cache_dir="out/llm_cache") as client:
        results = await client.complete_many(requests)   # same order as requests
    logger.info(client.usage.summary())

Every call ends in exactly one :class:`LLMResult` state (ok / malformed / refused /
budget_exhausted / failed with a reason), so callers can count every input: a 200 answer the SDK
cannot read (a cut body, ``choices: [{}]``, ``message: null``) is ``bad_response`` (retried), and
an unexpected error is ``internal_error`` (logged with its traceback). The one exception is a key
the server refuses (401/403): the client raises :class:`RejectedAPIKey` and sends nothing more,
since every other request would be refused too. The SDK's own retries are switched off
(``max_retries=0``): the policy here is the only one, and it is tested.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Sequence
from typing import Any

import openai

from dataset_builders.llm.budget import Budget
from dataset_builders.llm.cache import ResponseCache
from dataset_builders.llm.config import LLMConfig
from dataset_builders.llm.request import LLMRequest, LLMResult
from dataset_builders.llm.retry import RetryPolicy, is_retryable_status, parse_retry_after
from dataset_builders.llm.secrets import RejectedAPIKey, Secret, secret_from_env
from dataset_builders.llm.structured import parse_answer, response_format_for
from dataset_builders.llm.usage import UsageReport

logger = logging.getLogger(__name__)


class _AttemptError(Exception):
    def __init__(self, reason: str, retryable: bool, detail: str = "", retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail
        self.retry_after = retry_after


class LLMClient:
    """Structured chat completions with retries, cache and budget (see the module docstring).

    Args:
        config: endpoint, model and policy.
        cache_dir: where answers are cached (overrides ``config.cache_dir``; None and a config
            without one: no cache).
        secret: the API key; by default read from ``config.key_env``.
        rng: random source for backoff jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        config: LLMConfig,
        cache_dir: str | os.PathLike | None = None,
        secret: Secret | None = None,
        rng: random.Random | None = None,
    ):
        self.config = config
        required = config.provider in ("openai", "azure") or config.api_key_env is not None
        self._secret = secret if secret is not None else secret_from_env(config.key_env, required)
        self.cache = ResponseCache(cache_dir if cache_dir is not None else config.cache_dir)
        self.budget = Budget(config.max_requests, config.max_total_tokens)
        self.retry = RetryPolicy(config.max_retries, config.backoff_base_s, config.backoff_max_s,
                                 config.max_retry_after_s, rng)
        self.usage = UsageReport(model=config.model, price_input_per_mtok=config.price_input_per_mtok,
                                 price_output_per_mtok=config.price_output_per_mtok)
        self._sdk: Any = None
        self._sem: asyncio.Semaphore | None = None
        self._rejected: str | None = None  # set by the first 401/403: nothing more is sent

    def __repr__(self) -> str:
        return (f"LLMClient(provider={self.config.provider!r}, model={self.config.model!r}, "
                f"base_url={self.config.base_url!r}, key=***)")

    # -- lifecycle ------------------------------------------------------------------------------
    def _make_sdk(self) -> Any:
        cfg = self.config
        common: dict[str, Any] = {"api_key": self._secret.reveal(), "max_retries": 0, "timeout": cfg.timeout_s}
        if cfg.provider == "azure":
            return openai.AsyncAzureOpenAI(
                azure_endpoint=cfg.azure_endpoint or cfg.base_url,
                azure_deployment=cfg.azure_deployment,
                api_version=cfg.api_version,
                **common,
            )
        return openai.AsyncOpenAI(base_url=cfg.base_url, **common)

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None

    # -- calls ----------------------------------------------------------------------------------
    async def complete_many(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """Run ``requests`` concurrently (at most ``config.concurrency`` in flight); results in order.
        Raises :class:`RejectedAPIKey` (after cancelling the rest) when the server refuses the key."""
        tasks = [asyncio.ensure_future(self.complete(r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One structured call: cache, then up to ``1 + max_parse_retries`` answers, each with retries."""
        try:
            return await self._complete(request)
        except (RejectedAPIKey, asyncio.CancelledError):
            raise
        except Exception as e:  # a bug or an SDK surprise: counted for this request, the run goes on
            logger.exception("%s: unexpected %s", request.label or "request", type(e).__name__)
            self.usage.failures["internal_error"] += 1
            return LLMResult("failed", request.label, reason="internal_error",
                             detail=self._secret.redact(f"{type(e).__name__}: {e}"))

    async def _complete(self, request: LLMRequest) -> LLMResult:
        key = request.cache_key(self.config)
        entry = self.cache.get(key)
        if entry is not None:
            self.usage.cache_hits += 1
            return self._finish(request, entry["response"], cached=True)
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.config.concurrency)
        async with self._sem:
            response: dict[str, Any] | None = None
            for answer_try in range(self.config.max_parse_retries + 1):
                sent = await self._send_with_retries(request, answer_try)
                if isinstance(sent, LLMResult):
                    return sent
                response = sent
                parsed = parse_answer(request.schema, response["content"], response["refusal"],
                                      response["finish_reason"])
                if parsed.status == "ok":
                    break
                self.usage.attempt_errors[parsed.status] += 1
                more = answer_try < self.config.max_parse_retries
                logger.warning("%s: %s answer (%s)%s", request.label or key[:12], parsed.status,
                               self._secret.redact(parsed.detail), "; asking again" if more else "")
            assert response is not None
            self.cache.put(key, {"label": request.label, "model": self.config.model, "response": response})
            return self._finish(request, response, cached=False)

    def _finish(self, request: LLMRequest, response: dict[str, Any], cached: bool) -> LLMResult:
        parsed = parse_answer(request.schema, response.get("content"), response.get("refusal"),
                              response.get("finish_reason"))
        if parsed.status == "ok":
            self.usage.ok += 1
            return LLMResult("ok", request.label, value=parsed.value, cached=cached, usage=response.get("usage") or {})
        self.usage.failures[parsed.status] += 1
        return LLMResult(parsed.status, request.label, reason=parsed.status, cached=cached,
                         detail=self._secret.redact(parsed.detail))

    async def _send_with_retries(self, request: LLMRequest, answer_try: int = 0) -> dict[str, Any] | LLMResult:
        label = request.label or "request"
        for attempt in range(self.config.max_retries + 1):
            if self._rejected is not None:
                raise RejectedAPIKey(self._rejected)
            if not self.budget.try_acquire():
                self.usage.budget_exhausted += 1
                return LLMResult("budget_exhausted", request.label, reason="budget_exhausted")
            self.usage.requests += 1
            try:
                return await self._send_once(request, answer_try)
            except _AttemptError as e:
                self.usage.attempt_errors[e.reason] += 1
                detail = self._secret.redact(e.detail)
                if e.reason in ("http_401", "http_403"):
                    self.usage.failures[e.reason] += 1
                    if self._rejected is None:
                        self._rejected = (
                            f"the LLM server at {self.config.base_url or self.config.provider} refused the API key "
                            f"({detail}); check the key in ${self.config.key_env or 'the key variable'} "
                            "and its access to the model")
                        logger.error("%s: %s; sending no more requests", label, self._rejected)
                    raise RejectedAPIKey(self._rejected) from None
                if not e.retryable or attempt >= self.config.max_retries:
                    self.usage.failures[e.reason] += 1
                    logger.warning("%s: giving up after %d attempt(s): %s %s", label, attempt + 1, e.reason, detail)
                    return LLMResult("failed", request.label, reason=e.reason, detail=detail)
                wait = self.retry.delay(attempt, e.retry_after)
                self.usage.retries += 1
                logger.info("%s: %s%s; retry %d/%d in %.2fs", label, e.reason,
                            f" (Retry-After {e.retry_after:g}s)" if e.retry_after is not None else "",
                            attempt + 1, self.config.max_retries, wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_once(self, request: LLMRequest, answer_try: int = 0) -> dict[str, Any]:
        cfg = self.config
        if self._sdk is None:
            self._sdk = self._make_sdk()
        kwargs: dict[str, Any] = {"model": cfg.model, "messages": [m.to_openai() for m in request.messages]}
        response_format = response_format_for(request.schema, cfg.response_format)
        if response_format is not None:
            kwargs["response_format"] = response_format
        if cfg.temperature is not None:
            kwargs["temperature"] = cfg.temperature
        if cfg.max_tokens is not None:
            # OpenAI's current name (newer models refuse max_tokens); self-hosted servers know max_tokens
            kwargs["max_completion_tokens" if cfg.provider in ("openai", "azure") else "max_tokens"] = cfg.max_tokens
        if cfg.seed is not None:
            # a malformed/refused answer is asked again with the next seed, so a seeded model can answer differently
            kwargs["seed"] = cfg.seed + answer_try
        try:
            async with asyncio.timeout(cfg.timeout_s + 1.0):  # hard deadline even for a dripping server
                completion = await self._sdk.chat.completions.create(timeout=cfg.timeout_s, **kwargs)
        except (TimeoutError, openai.APITimeoutError) as e:
            raise _AttemptError("timeout", True, f"no answer within {cfg.timeout_s:g}s") from e
        except openai.APIConnectionError as e:
            raise _AttemptError("connection", True, str(e)) from e
        except openai.APIStatusError as e:
            status = e.status_code
            reason = "rate_limited" if status == 429 else "server_error" if status >= 500 else f"http_{status}"
            retry_after = parse_retry_after(e.response.headers) if e.response is not None else None
            raise _AttemptError(reason, is_retryable_status(status), f"HTTP {status}: {e.message}", retry_after) from e
        except openai.OpenAIError as e:
            raise _AttemptError("bad_response", True, f"{type(e).__name__}: {e}") from e
        except ValueError as e:  # a 200 whose body is not JSON (cut off, or not UTF-8)
            raise _AttemptError("bad_response", True, f"unreadable answer: {type(e).__name__}: {e}") from e
        choices = getattr(completion, "choices", None)
        if not choices or not isinstance(choices, list):
            raise _AttemptError("bad_response", True, "the response has no choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None)
        if message is None or not isinstance(content, str | None):
            raise _AttemptError("bad_response", True, "the first choice has no message")
        usage = getattr(completion, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        self.usage.tokens_in += tokens_in
        self.usage.tokens_out += tokens_out
        self.budget.add_tokens(tokens_in + tokens_out)
        return {
            "content": content,
            "refusal": getattr(message, "refusal", None),
            "finish_reason": getattr(choices[0], "finish_reason", None),
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out},
        }


def run_requests(config: LLMConfig, requests: Sequence[LLMRequest], **kwargs: Any) -> tuple[list[LLMResult], UsageReport]:
    """Synchronous convenience: run ``requests`` with a fresh client, return results and usage."""

    async def _run() -> tuple[list[LLMResult], UsageReport]:
        async with LLMClient(config, **kwargs) as client:
            results = await client.complete_many(requests)
            return results, client.usage

    return asyncio.run(_run())
