"""Talking to the Hub: the token, an injectable client, and calls with retries.

The client is anything with ``create_repo`` and ``upload_folder`` taking ``huggingface_hub.HfApi``'s
keyword arguments; tests pass a recording fake through ``hub_factory``. The token comes from
``HF_TOKEN`` or the saved ``hf auth login``, goes to the client and nowhere else: it is never in a
plan, a staged file, a log line or an error message.

Every call is bounded: ``huggingface_hub``'s shared HTTP client has no timeout of its own, so an
endpoint that accepts the connection and never answers would hold a release forever; the default
client gets ``JA_VILA_HUB_TIMEOUT`` seconds (default 120) for each connect, read, write and pool
wait, and each call is tried at most ``JA_VILA_HUB_ATTEMPTS`` times (default 5).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from model_cards.release.plan import ReleaseError, ReleasePlan

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 423, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 300.0
TIMEOUT_ENV, DEFAULT_TIMEOUT_S = "JA_VILA_HUB_TIMEOUT", 120.0
ATTEMPTS_ENV, DEFAULT_ATTEMPTS = "JA_VILA_HUB_ATTEMPTS", 5


def _env_number(name: str, default: float, kind: type) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ReleaseError(f"{name}={raw!r} is not a positive {kind.__name__}; unset it or give e.g. {kind(default)}")
    return value


def hub_timeout_s() -> float:
    """Seconds each Hub request may wait for a connection, an answer or a write (``JA_VILA_HUB_TIMEOUT``)."""
    return float(_env_number(TIMEOUT_ENV, DEFAULT_TIMEOUT_S, float))


def hub_attempts() -> int:
    """Tries per Hub call (``JA_VILA_HUB_ATTEMPTS``)."""
    return int(_env_number(ATTEMPTS_ENV, DEFAULT_ATTEMPTS, int))


class HubClient(Protocol):
    def create_repo(self, repo_id: str, **kwargs: Any) -> Any: ...

    def repo_info(self, repo_id: str, **kwargs: Any) -> Any: ...

    def upload_folder(self, **kwargs: Any) -> Any: ...


HubFactory = Callable[[str], HubClient]


def resolve_token() -> str:
    """``HF_TOKEN`` or the token saved by ``hf auth login``; an error that says how to set one."""
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise ReleaseError("no Hugging Face token: set HF_TOKEN (a write token) or run `hf auth login`; "
                           "or use --dry-run to stage without uploading")
    return token


def default_hub(token: str) -> HubClient:
    """``HfApi`` whose shared HTTP client (created with ``timeout=None``) now times out."""
    from huggingface_hub import HfApi, get_session

    get_session().timeout = hub_timeout_s()
    return HfApi(token=token)


def _status(error: BaseException) -> int | None:
    return getattr(getattr(error, "response", None), "status_code", None)


def _retryable(error: BaseException) -> bool:
    status = _status(error)
    if status is not None:
        return status in RETRY_STATUSES
    try:
        from httpx2 import TransportError
    except ImportError:  # pragma: no cover - huggingface_hub < 2 used httpx
        TransportError = ()  # noqa: N806
    return isinstance(error, (ConnectionError, TimeoutError, *([TransportError] if TransportError else [])))


def _delay(error: BaseException, attempt: int, base_delay: float) -> float:
    response = getattr(error, "response", None)
    retry_after = getattr(response, "headers", {}).get("retry-after") if response is not None else None
    try:
        if retry_after is not None:
            return min(float(retry_after), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    return min(base_delay * 2**attempt, MAX_RETRY_AFTER_S)


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or type(error).__name__.endswith("Timeout")


def call_with_retries(fn: Callable[..., Any], kwargs: dict[str, Any], what: str, attempts: int | None = None,
                      base_delay: float = 2.0, sleep: Callable[[float], None] = time.sleep) -> Any:
    """``fn(**kwargs)``, retried on 408/409/423/429/5xx and connection errors (``Retry-After`` honoured).

    Safe for ``upload_folder``: a repeated call resumes (committed files are skipped, uploaded data
    is deduplicated). Errors are re-raised as :class:`ReleaseError` with the status and the fix.
    ``attempts`` defaults to :func:`hub_attempts`.
    """
    attempts = attempts or hub_attempts()
    for attempt in range(attempts):
        try:
            return fn(**kwargs)
        except Exception as e:  # noqa: BLE001 - classified below, re-raised with context
            status = _status(e)
            if _retryable(e) and attempt + 1 < attempts:
                wait = _delay(e, attempt, base_delay)
                logger.warning("%s failed (%s%s); retry %d/%d in %.0fs", what, type(e).__name__,
                               f" {status}" if status else "", attempt + 1, attempts - 1, wait)
                sleep(wait)
                continue
            if status in (401, 403):
                raise ReleaseError(f"{what}: the Hub refused the token ({status}); it needs write access to "
                                   f"{kwargs.get('repo_id')} (a write token in HF_TOKEN, or `hf auth login`)") from e
            if status == 404:
                raise ReleaseError(f"{what}: {kwargs.get('repo_id')} not found (404); check --repo "
                                   "(the organisation must exist and you must be a member)") from e
            reason = f"HTTP {status}" if status else type(e).__name__
            if _timed_out(e):
                reason += (f": the Hub endpoint did not answer within {hub_timeout_s():g}s "
                           f"({TIMEOUT_ENV} sets the limit, HF_ENDPOINT the endpoint)")
            raise ReleaseError(f"{what} failed after {attempt + 1} attempt(s) ({reason}); re-run the same command "
                               "to resume (files already committed are skipped)") from e
    raise AssertionError("unreachable")


def push(plan: ReleasePlan, hub_factory: HubFactory | None = None, token: str | None = None,
         sleep: Callable[[float], None] = time.sleep) -> ReleasePlan:
    """Run ``plan.calls`` on a client made from the token; marks the plan pushed."""
    token = token or resolve_token()
    client = (hub_factory or default_hub)(token)
    for call in plan.calls:
        logger.info("hub: %s", call.method)
        result = call_with_retries(getattr(client, call.method), dict(call.kwargs), call.method, sleep=sleep)
        if call.method == "repo_info" and plan.private and getattr(result, "private", None) is False:
            raise ReleaseError(f"{plan.repo_id} already exists and is public, but --private was asked: nothing was "
                               "uploaded; make the repo private on the Hub (Settings) or release without --private")
        plan.results.append(result)
    plan.pushed = True
    logger.info("released %s", plan.url)
    return plan


def hub_calls(kind: str, repo_id: str, private: bool, stage_dir, commit_message: str,
              delete_patterns: list[str]) -> list:
    """The calls of a release: create the repo (kept if it exists), check it is private when asked,
    upload the stage folder.

    ``delete_patterns`` remove remote files of an earlier release that this one no longer has (e.g.
    shards of a bigger build, which ``data/*.tar`` would otherwise still load); files being uploaded
    are never deleted, so a resumed upload is safe.
    """
    from model_cards.release.plan import HubCall

    repo_type = kind  # "dataset" or "model"
    check = [HubCall("repo_info", {"repo_id": repo_id, "repo_type": repo_type})] if private else []
    return [
        HubCall("create_repo", {"repo_id": repo_id, "repo_type": repo_type, "private": private, "exist_ok": True}),
        *check,  # an existing public repo stays public: refuse rather than publish
        HubCall("upload_folder", {"repo_id": repo_id, "repo_type": repo_type, "folder_path": str(stage_dir),
                                  "commit_message": commit_message, "delete_patterns": delete_patterns}),
    ]
