"""The judge path against the scripted OpenAI-compatible server on loopback: scores parsed and kept
in item order, malformed answers asked again and then counted, empty predictions 0 without a request,
the sampling settings sent, cached answers reused, a missing key caught before any work."""

from __future__ import annotations

import json
import re

import pytest

from dataset_builders.llm.secrets import MissingAPIKey
from eval.metrics import heron, judge
from ja_vila.servers import openai_server


def _settings(server, tmp_path, **kw) -> judge.JudgeSettings:
    base = dict(model="judge-x", base_url=server.url, timeout_s=5.0, max_retries=1, max_parse_retries=1,
                backoff_base_s=0.01, backoff_max_s=0.05, concurrency=4, cache_dir=str(tmp_path / "cache"))
    base.update(kw)
    return judge.JudgeSettings(**base)


def _prediction_of(body) -> str:
    text = openai_server._last_user(body["messages"])[0]
    m = re.search(r"^Prediction: (.*)$", text, re.MULTILINE)
    return m.group(1) if m else ""


def test_scores_parsed_in_order_with_judge_settings(server, tmp_path, monkeypatch):
    # a judge that gives 5 to the right answer and 2 otherwise
    monkeypatch.setattr(openai_server, "answer_for",
                        lambda body: {"score": 5 if _prediction_of(body) == "東京" else 2})
    run = judge.judge_scores(["日本の首都は？"] * 3, ["東京"] * 3, ["東京", "大阪", "東京"], _settings(server, tmp_path))
    assert run.scores == [5, 2, 5]
    summary = judge.summarize(run)
    assert summary["value"] == 4.0 and summary["n_scored"] == 3 and summary["n_failed"] == 0
    assert server.count() == 3
    for r in server.requests:
        assert r.body["model"] == "judge-x"
        assert r.body["temperature"] == 0.0 and r.body["seed"] == 0
        assert r.schema_name == "JudgeScore"
        assert "日本の首都は？" in r.last_user_text and "Correct answer: 東京" in r.last_user_text


def test_empty_predictions_score_zero_without_asking(server, tmp_path, realdata):
    case = json.loads((realdata / "ja_vlm_bench" / "eval_mm_scorer_vectors.json").read_text(encoding="utf-8"))[
        "llm_as_a_judge_empty_preds"]
    run = judge.judge_scores(case["questions"], case["answers"], case["preds"], _settings(server, tmp_path))
    assert run.scores == case["expected_scores"]
    assert judge.summarize(run)["value"] == case["expected_overall"]
    assert server.count() == 0


def test_whitespace_prediction_is_empty(server, tmp_path):
    run = judge.judge_scores(["q", "q"], ["a", "a"], ["  \n", "答え"], _settings(server, tmp_path))
    assert run.scores == [0, 1]  # the scripted judge answers 1 for an integer field
    assert server.count() == 1


def test_malformed_answer_is_retried_then_scored(server, tmp_path):
    run = judge.judge_scores(["q"], ["a"], ["答え [[mock:malformed*1]]"], _settings(server, tmp_path))
    assert run.scores == [1]
    assert [r.behaviour for r in server.requests] == ["malformed", "ok"]


def test_malformed_answers_are_counted_not_averaged(server, tmp_path):
    run = judge.judge_scores(["q1", "q2", "q3"], ["a"] * 3,
                             ["ok answer", "[[mock:malformed]]", "[[mock:invalid]]"], _settings(server, tmp_path))
    assert run.scores == [1, None, None]
    assert run.failures == {"malformed": 2}
    summary = judge.summarize(run)
    assert summary["value"] == 1.0 and summary["n_scored"] == 1 and summary["n_failed"] == 2
    # each unusable item was asked 1 + max_parse_retries times
    assert server.count("malformed") == 2 and server.count("invalid") == 2


def test_out_of_range_score_is_malformed(server, tmp_path, monkeypatch):
    monkeypatch.setattr(openai_server, "answer_for", lambda body: {"score": 7})
    run = judge.judge_scores(["q"], ["a"], ["p"], _settings(server, tmp_path))
    assert run.scores == [None] and run.failures == {"malformed": 1}
    assert server.count() == 2


def test_cached_answers_are_reused(server, tmp_path):
    settings = _settings(server, tmp_path)
    first = judge.judge_scores(["q1", "q2"], ["a", "b"], ["x", "y"], settings)
    assert server.count() == 2
    second = judge.judge_scores(["q1", "q2"], ["a", "b"], ["x", "y"], settings)
    assert second.scores == first.scores
    assert server.count() == 2 and second.cache_hits == 2


def test_heron_pairs_through_the_client(server, tmp_path, monkeypatch):
    def answer(body):
        text = openai_server._last_user(body["messages"])[0]
        model = text.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]", 1)[0]
        return {"score_assistant_1": 8, "score_assistant_2": 6 if model == "良い答え" else 3, "explanation": "説明"}

    monkeypatch.setattr(openai_server, "answer_for", answer)
    cats = ["conv", "detail", "complex", "complex"]
    run = heron.judge_pairs(["画像の説明"] * 4, ["質問"] * 4, ["参照の答え"] * 4,
                            ["良い答え", "悪い", "", "良い答え [[mock:malformed]]"], _settings(server, tmp_path))
    assert run.scores[:3] == [(8.0, 6.0), (8.0, 3.0), (8.0, 0.0)]  # empty answer: 0, reference still rated
    assert run.scores[3] is None and run.failures == {"malformed": 1}
    out = heron.relative_scores(cats, run.scores)
    assert out["conv_rel"] == 75.0 and out["detail_rel"] == 37.5 and out["complex_rel"] == 0.0
    assert out["parse_error_count"] == 1
    body = server.requests[0].body
    assert body["temperature"] == 0.0 and body["seed"] == 0
    assert body["response_format"]["json_schema"]["name"] == "HeronReview"
    user = server.requests[0].last_user_text
    assert user.startswith("[Context]\n画像の説明") and "[Assistant 1]\n参照の答え" in user


def test_missing_key_is_caught_up_front(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKey):
        judge.JudgeSettings(model="gpt-4o-2024-05-13").check()
    judge.JudgeSettings(model="local", base_url="http://127.0.0.1:9/v1").check()  # self-hosted: no key needed
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge.JudgeSettings(model="gpt-4o-2024-05-13").check()


def test_describe_has_no_secret(monkeypatch):
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-secret-value")
    s = judge.JudgeSettings(model="m", base_url="http://127.0.0.1:1/v1", api_key_env="MY_JUDGE_KEY")
    assert "sk-secret-value" not in json.dumps(s.describe())
    assert s.describe()["provider"] == "openai_compatible"
