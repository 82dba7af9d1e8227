"""The LLM client against the scripted OpenAI-compatible server: every failure mode ends kept or
counted, retries follow our policy (Retry-After honoured), the cache makes re-runs free, the
budget stops cleanly, and the API key never leaves the Authorization header."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import random
import time
from pathlib import Path

import pytest
from pydantic import BaseModel

from dataset_builders.llm import ImagePart, LLMClient, LLMConfig, LLMRequest, Message, run_requests
from dataset_builders.llm.budget import Budget
from dataset_builders.llm.retry import RetryPolicy, parse_retry_after
from dataset_builders.llm.secrets import MissingAPIKey, RejectedAPIKey, Secret
from dataset_builders.llm.structured import parse_answer
from dataset_builders.tiny.synthetic_images import make_image
from ja_vila.servers.openai_server import ScriptedOpenAIServer

MARKER_KEY = "sk-test-MARKER-123"


class Turn(BaseModel):
    question: str
    answer: str


class Conversation(BaseModel):
    turns: list[Turn]


def _request(label: str, extra: str = "") -> LLMRequest:
    text = f"キャプション:\n- A cat on a sofa {label} {extra}\n物体:\n- 猫 (cat): [0.1, 0.2, 0.4, 0.6]\n"
    return LLMRequest([Message.text("system", "会話を JSON で作ってください。"), Message.text("user", text)],
                      Conversation, label=label)


def _config(server: ScriptedOpenAIServer, tmp_path: Path | None = None, **kw) -> LLMConfig:
    base = dict(provider="openai", base_url=server.url, model="scripted-mini", timeout_s=0.5, max_retries=1,
                backoff_base_s=0.01, backoff_max_s=0.05, max_parse_retries=1, concurrency=4,
                cache_dir=str(tmp_path / "cache") if tmp_path else None)
    base.update(kw)
    return LLMConfig(**base)



@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", MARKER_KEY)


def _sent(server: ScriptedOpenAIServer, label: str) -> int:
    return sum(1 for r in server.requests if f" {label} " in r.last_user_text)


def test_every_failure_mode_ends_kept_or_counted_in_bounded_time(server, tmp_path):
    labels = {
        "good": "", "mal": "[[mock:malformed]]", "inv": "[[mock:invalid]]", "ref": "[[mock:refusal]]",
        "rate": "[[mock:429]]", "err": "[[mock:500]]", "hang": "[[mock:hang]]", "drop": "[[mock:drop]]",
        "flaky": "[[mock:500*1]]", "mal-once": "[[mock:malformed*1]]",
    }
    server.retry_after = 0
    requests = [_request(k, v) for k, v in labels.items()]
    results, usage = run_requests(_config(server, tmp_path), requests)  # the hang ends at timeout_s (0.5)
    by_label = {r.label: r for r in results}
    assert [r.label for r in results] == list(labels)  # same order as the requests
    assert by_label["good"].ok and by_label["flaky"].ok and by_label["mal-once"].ok
    assert by_label["good"].value.turns[0].answer.startswith("画像には猫")
    assert (by_label["mal"].status, by_label["inv"].status, by_label["ref"].status) == ("malformed", "malformed", "refused")
    assert {k: by_label[k].reason for k in ("rate", "err", "hang", "drop")} == {
        "rate": "rate_limited", "err": "server_error", "hang": "timeout", "drop": "connection"}
    # every request ends in exactly one state
    assert usage.ok + sum(usage.failures.values()) == len(requests)
    assert usage.failures == {"malformed": 2, "refused": 1, "rate_limited": 1, "server_error": 1,
                              "timeout": 1, "connection": 1}
    # our policy, not the SDK's: 1 + max_retries attempts per transport failure, 1 + max_parse_retries answers
    assert _sent(server, "err") == 2 and _sent(server, "hang") == 2 and _sent(server, "rate") == 2
    assert _sent(server, "mal") == 2 and _sent(server, "ref") == 2 and _sent(server, "good") == 1
    assert _sent(server, "flaky") == 2 and _sent(server, "mal-once") == 2
    mal_seeds = [r.body["seed"] for r in server.requests if " mal " in r.last_user_text]
    assert mal_seeds == [0, 1]  # an answer asked again gets the next seed
    assert all(r.body["max_completion_tokens"] == 2048 for r in server.requests)
    assert usage.requests == server.count()
    # the hanging request was given up at the timeout and asked again: the retry came >= 0.5 s later
    hang = [r.time for r in server.requests if " hang " in r.last_user_text]
    assert hang[1] - hang[0] >= 0.5


def test_retry_after_is_honoured_and_backoff_is_ours(server, monkeypatch):
    waits: list[tuple[int, float | None, float]] = []  # (attempt, Retry-After, wait chosen) per retry
    real = RetryPolicy.delay

    def spy(self, attempt, retry_after=None):
        wait = real(self, attempt, retry_after)
        waits.append((attempt, retry_after, wait))
        return wait

    monkeypatch.setattr(RetryPolicy, "delay", spy)
    server.retry_after = 1
    results, usage = run_requests(_config(server, timeout_s=5, max_retries=2), [_request("r", "[[mock:429*1]]")])
    assert results[0].ok and usage.retries == 1
    first, second = server.requests
    assert first.behaviour == "429" and second.behaviour == "ok"
    ((attempt, asked, wait),) = waits
    assert asked == 1.0 and 1.0 <= wait <= 1.1  # the server's time, plus at most 10% jitter
    assert second.time - first.time >= 0.95, "the retry came before Retry-After"
    # without Retry-After the wait is our exponential backoff (base 0.01 s, doubling, full jitter)
    server.reset()
    waits.clear()
    results, _ = run_requests(_config(server, timeout_s=5, max_retries=2), [_request("s", "[[mock:503*2]]")])
    assert results[0].ok and server.count() == 3
    assert [(a, r) for a, r, _ in waits] == [(0, None), (1, None)]
    assert all(0 <= w <= 0.01 * 2**a for a, _, w in waits)


def test_retry_after_parsing_and_jittered_backoff():
    now = time.time()
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = email.utils.formatdate(now + 10, usegmt=True)
    assert 8.0 <= parse_retry_after({"retry-after": date}, now=now) <= 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None and parse_retry_after({}) is None
    policy = RetryPolicy(max_retries=5, base_s=0.5, max_s=4.0, max_retry_after_s=30, rng=random.Random(0))
    delays = [[policy.delay(a) for _ in range(200)] for a in range(6)]
    for attempt, ds in enumerate(delays):
        assert all(0 <= d <= min(4.0, 0.5 * 2**attempt) for d in ds)
    assert max(delays[5]) > 3.0 and len(set(delays[0])) > 100  # grows, and is jittered
    assert 30 <= policy.delay(0, retry_after=600) <= 33  # capped, small jitter on top


def test_cache_makes_a_second_run_free_and_keys_on_the_request_only(server, tmp_path):
    requests = [_request(f"c{i}") for i in range(5)]
    cfg = _config(server, tmp_path)
    results, usage = run_requests(cfg, requests)
    assert all(r.ok for r in results) and usage.requests == 5 == server.count()
    # same requests, another key (the key is not part of the cache key): nothing is sent
    results2, usage2 = run_requests(cfg, requests, secret=Secret("sk-other-key"))
    assert server.count() == 5 and usage2.requests == 0 and usage2.cache_hits == 5
    assert [r.value for r in results2] == [r.value for r in results] and all(r.cached for r in results2)
    # a different parameter, model or image is a different request
    run_requests(_config(server, tmp_path, temperature=0.1), requests[:1])
    run_requests(_config(server, tmp_path, model="other-model"), requests[:1])
    assert server.count() == 7
    img_req = [LLMRequest([Message("user", [ImagePart(make_image(n, 32, 32)), "説明して"])], Conversation, label=n)
               for n in ("a", "b")]
    assert img_req[0].cache_key(cfg) != img_req[1].cache_key(cfg)


def test_cache_entries_are_atomic_and_a_torn_entry_is_a_miss(server, tmp_path):
    cfg = _config(server, tmp_path)
    req = _request("torn")
    run_requests(cfg, [req])
    entry = tmp_path / "cache" / req.cache_key(cfg)[:2] / f"{req.cache_key(cfg)}.json"
    assert json.loads(entry.read_text(encoding="utf-8"))["label"] == "torn"
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    entry.write_text('{"key": "', encoding="utf-8")  # a torn write
    results, usage = run_requests(cfg, [req])
    assert results[0].ok and usage.requests == 1 and server.count() == 2
    assert json.loads(entry.read_text(encoding="utf-8"))["key"] == req.cache_key(cfg)


def test_final_malformed_answers_are_cached_transient_failures_are_not(server, tmp_path):
    cfg = _config(server, tmp_path, max_parse_retries=0, max_retries=0)
    reqs = [_request("m", "[[mock:malformed]]"), _request("e", "[[mock:500]]")]
    results, _ = run_requests(cfg, reqs)
    assert [r.status for r in results] == ["malformed", "failed"]
    results, usage = run_requests(cfg, reqs)
    assert [r.status for r in results] == ["malformed", "failed"]
    assert usage.cache_hits == 1 and usage.requests == 1  # only the 500 is tried again


def test_budget_stops_new_requests_and_logs_once(server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    cfg = _config(server, tmp_path, max_requests=3, concurrency=1)
    results, usage = run_requests(cfg, [_request(f"b{i}") for i in range(7)])
    assert [r.status for r in results].count("ok") == 3
    assert [r.status for r in results].count("budget_exhausted") == 4
    assert usage.budget_exhausted == 4 and server.count() == 3
    lines = [r for r in caplog.records if "budget exhausted" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    # answers already paid for still come from the cache once the budget is spent
    results, usage = run_requests(cfg, [_request("b0"), _request("b1"), _request("b6")])
    assert [r.status for r in results] == ["ok", "ok", "ok"] and usage.requests == 1


def test_token_budget_and_usage_report(server):
    cfg = _config(server, max_total_tokens=1, concurrency=1, price_input_per_mtok=1.0, price_output_per_mtok=2.0)
    results, usage = run_requests(cfg, [_request("t0"), _request("t1")])
    assert [r.status for r in results] == ["ok", "budget_exhausted"]
    report = usage.to_dict()
    assert report["tokens_in"] > 0 and report["tokens_out"] > 0 and report["budget_exhausted"] == 1
    assert report["estimated_cost_usd"] == pytest.approx((usage.tokens_in + 2 * usage.tokens_out) / 1e6)
    assert "1 requests" in usage.summary()
    b = Budget(max_requests=2)
    assert b.try_acquire() and b.try_acquire() and not b.try_acquire() and b.refused == 1


def test_api_key_is_sent_but_never_logged_cached_or_shown(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = _config(server, tmp_path, max_retries=0, max_parse_retries=0)
    client = LLMClient(cfg)
    assert MARKER_KEY not in repr(client) and MARKER_KEY not in repr(client._secret) and MARKER_KEY not in str(client._secret)

    async def go():
        async with client:
            ok = await client.complete(_request("k"))
            with pytest.raises(RejectedAPIKey) as refused:  # a 401 stops the run (tests/faults/test_llm_replies.py)
                await client.complete_many([_request("leak", "[[mock:echo_auth]]")])
            return ok, str(refused.value)

    ok, message = asyncio.run(go())
    assert ok.ok and "HTTP 401" in message
    assert MARKER_KEY not in message and "REDACTED" in message
    assert {r.authorization for r in server.requests} == {f"Bearer {MARKER_KEY}"}
    assert MARKER_KEY not in caplog.text and "REDACTED" in caplog.text
    for f in (tmp_path / "cache").rglob("*"):
        if f.is_file():
            assert MARKER_KEY.encode() not in f.read_bytes(), f


def test_missing_key_names_the_variable(monkeypatch, server):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(MissingAPIKey, match="OPENAI_API_KEY"):
        LLMClient(_config(server))
    with pytest.raises(MissingAPIKey, match="MY_LLM_KEY"):
        LLMClient(_config(server, api_key_env="MY_LLM_KEY"))
    # self-hosted vLLM / SGLang without a key works
    results, _ = run_requests(_config(server, provider="vllm"), [_request("v")])
    assert results[0].ok and server.requests[-1].authorization == "Bearer EMPTY"


def test_images_are_sent_as_base64_data_urls(server):
    image = make_image("photo", 64, 48, "png")
    req = LLMRequest([Message("user", [ImagePart(image, detail="low"), "この写真について会話を作って"])], Conversation,
                     label="img")
    results, _ = run_requests(_config(server, provider="sglang"), [req])
    assert results[0].ok
    content = server.requests[0].body["messages"][0]["content"]
    part = next(p for p in content if p["type"] == "image_url")
    assert part["image_url"]["detail"] == "low"
    header, b64 = part["image_url"]["url"].split(",", 1)
    assert header == "data:image/png;base64" and base64.b64decode(b64) == image
    assert results[0].value.turns[0].answer.endswith("色合いです。")  # the server looked at the image


def test_azure_deployment_path_and_key_header(server, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", MARKER_KEY)
    cfg = _config(server, provider="azure", base_url=None, azure_endpoint=server.root_url,
                  azure_deployment="gpt4o-dep", api_version="2024-10-21")
    results, _ = run_requests(cfg, [_request("az")])
    assert results[0].ok
    seen = server.requests[0]
    assert seen.path == "/openai/deployments/gpt4o-dep/chat/completions"
    assert seen.headers.get("api-key") == MARKER_KEY


def test_structured_output_request_and_strict_parsing(server):
    run_requests(_config(server), [_request("schema")])
    rf = server.requests[0].body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "Conversation"
    assert rf["json_schema"]["strict"] is True and rf["json_schema"]["schema"]["additionalProperties"] is False
    good = '{"turns": [{"question": "q", "answer": "a"}]}'
    assert parse_answer(Conversation, good).status == "ok"
    assert parse_answer(Conversation, f"```json\n{good}\n```").status == "ok"
    assert parse_answer(Conversation, f"Here you go: {good}").status == "malformed"
    assert parse_answer(Conversation, '{"turns": "x"}').status == "malformed"
    assert parse_answer(Conversation, good, finish_reason="length").status == "malformed"
    assert parse_answer(Conversation, None, refusal="I can't").status == "refused"
    assert parse_answer(Conversation, good, finish_reason="content_filter").status == "refused"
