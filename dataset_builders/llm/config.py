"""Settings of the LLM client: which endpoint, how hard to try, what it may spend.

One dataclass, read from the ``llm:`` section of a builder YAML (``configs/data/instruct.yaml``).
The API key is never part of it: only the *name* of the environment variable that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Providers the client knows; the self-hosted ones (vLLM, SGLang) only differ by ``base_url``.
PROVIDERS = ("openai", "azure", "vllm", "sglang", "openai_compatible")
#: How structured output is requested: a JSON schema (OpenAI, vLLM, SGLang), plain JSON mode, or
#: nothing (the prompt alone asks for JSON; the answer is still parsed strictly).
RESPONSE_FORMATS = ("json_schema", "json_object", "none")

DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "azure": "AZURE_OPENAI_API_KEY"}


@dataclass
class LLMConfig:
    """Endpoint, model and policy of one LLM client.

    Attributes:
        provider: ``openai``, ``azure``, ``vllm``, ``sglang`` or ``openai_compatible``.
        model: model name (for Azure: the deployment name, if ``azure_deployment`` is unset).
        base_url: endpoint for self-hosted servers (``http://host:8000/v1``) or an OpenAI proxy.
        api_key_env: environment variable holding the key; default per provider
            (``OPENAI_API_KEY`` / ``AZURE_OPENAI_API_KEY``). Self-hosted servers may run without one.
        azure_endpoint / azure_deployment / api_version: Azure OpenAI settings.
        concurrency: requests in flight at once.
        timeout_s: per-request timeout (connect + read).
        max_retries: retries of one request on 429, 5xx, timeouts and connection errors.
        backoff_base_s / backoff_max_s: exponential backoff with full jitter, capped.
        max_retry_after_s: the longest ``Retry-After`` the client honours (longer ones are capped).
        max_parse_retries: extra requests when an answer is malformed or refused.
        response_format: ``json_schema``, ``json_object`` or ``none``.
        temperature / max_tokens / seed: sampling parameters (part of the cache key).
        cache_dir: disk cache of answers (None: no cache). Relative paths are under the output folder.
        max_requests / max_total_tokens: the budget (None: unlimited). When spent, no new request is
            sent; everything finished so far is kept.
        price_input_per_mtok / price_output_per_mtok: USD per million tokens, for the cost estimate.
    """

    provider: str = "openai"
    model: str = "gpt-4o-mini-2024-07-18"
    base_url: str | None = None
    api_key_env: str | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    api_version: str | None = None
    concurrency: int = 8
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 120.0
    max_parse_retries: int = 2
    response_format: str = "json_schema"
    temperature: float | None = 0.7
    max_tokens: int | None = 2048
    seed: int | None = 0
    cache_dir: str | None = "llm_cache"
    max_requests: int | None = None
    max_total_tokens: int | None = None
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"llm.provider {self.provider!r} is not one of {PROVIDERS}")
        if self.response_format not in RESPONSE_FORMATS:
            raise ValueError(f"llm.response_format {self.response_format!r} is not one of {RESPONSE_FORMATS}")
        if self.concurrency < 1:
            raise ValueError("llm.concurrency must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("llm.timeout_s must be positive")
        if self.max_retries < 0 or self.max_parse_retries < 0:
            raise ValueError("llm.max_retries and llm.max_parse_retries must be >= 0")
        if self.provider in ("vllm", "sglang", "openai_compatible") and not self.base_url:
            raise ValueError(f"llm.provider {self.provider!r} needs llm.base_url (e.g. http://localhost:8000/v1)")

    @property
    def key_env(self) -> str | None:
        """The environment variable the key is read from (None: self-hosted without a default)."""
        return self.api_key_env or DEFAULT_KEY_ENV.get(self.provider)
