"""A robust client for OpenAI-compatible chat APIs (OpenAI, Azure OpenAI, vLLM, SGLang).

One concept per file: ``config`` (settings), ``secrets`` (API keys), ``messages`` (text + image
parts), ``request`` (a call and its result), ``structured`` (JSON answers into pydantic models),
``retry`` (backoff, Retry-After), ``cache`` (disk cache by request hash), ``budget`` (spending
limit), ``usage`` (the report), ``client`` (puts them together).
"""

from dataset_builders.llm.client import LLMClient, run_requests
from dataset_builders.llm.config import LLMConfig
from dataset_builders.llm.messages import ImagePart, Message
from dataset_builders.llm.request import LLMRequest, LLMResult
from dataset_builders.llm.usage import UsageReport

__all__ = ["ImagePart", "LLMClient", "LLMConfig", "LLMRequest", "LLMResult", "Message", "UsageReport", "run_requests"]
