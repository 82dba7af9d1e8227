"""Broken LLM replies: a 200 with a cut body, ``choices: [{}]`` or ``message: null`` ends as a counted
result, never an exception; a refused key stops the build early with a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from dataset_builders.llm import LLMConfig, LLMRequest, Message, run_requests
from dataset_builders.tiny.synthetic_images import make_image
from ja_vila.cli import app
from ja_vila.servers.openai_server import ScriptedOpenAIServer

KEY = "sk-test-faults-0123456789"
BROKEN = ("truncated_json", "empty_choice", "null_message")


class Turn(BaseModel):
    question: str
    answer: str


class Conversation(BaseModel):
    turns: list[Turn]



@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def _config(server: ScriptedOpenAIServer, **kw) -> LLMConfig:
    base = dict(provider="openai", base_url=server.url, model="scripted-mini", timeout_s=5, max_retries=1,
                backoff_base_s=0.01, backoff_max_s=0.05, max_parse_retries=0, concurrency=4, cache_dir=None)
    base.update(kw)
    return LLMConfig(**base)


def _request(label: str, marker: str = "") -> LLMRequest:
    text = f"キャプション:\n- 猫がソファの上にいる {label} {marker}\n"
    return LLMRequest([Message.text("user", text)], Conversation, label=label)


@pytest.mark.parametrize("behaviour", BROKEN)
def test_a_broken_200_answer_is_a_counted_result(server, behaviour):
    requests = [_request("good"), _request("bad", f"[[mock:{behaviour}]]"), _request("flaky", f"[[mock:{behaviour}*1]]")]
    results, usage = run_requests(_config(server), requests)  # today: JSONDecodeError / AttributeError escape
    by_label = {r.label: r for r in results}
    assert by_label["good"].status == "ok" and by_label["flaky"].status == "ok"  # retried, then answered
    assert (by_label["bad"].status, by_label["bad"].reason) == ("failed", "bad_response")
    assert usage.failures == {"bad_response": 1} and usage.ok == 2


def _coco(tmp_path: Path, n: int, marker: str = "") -> tuple[Path, Path]:
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for i in range(n):
        iid = f"{i + 1:012d}"
        rows.append({"id": iid, "image": f"{iid}.jpg", "captions": [f"A dog on the grass {i}. {marker}".strip()],
                     "instances": [{"category": "dog", "bbox": [0.1, 0.5, 0.4, 0.9]}]})
        (images / f"{iid}.jpg").write_bytes(make_image(iid, 64, 48))
    ann = tmp_path / "caps.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ann, images


def _cli(server, ann: Path, images: Path, out: Path, *extra: str):
    args = ["build", "instruct", "--source", "coco", "--input", str(ann), "--images", str(images), "--output", str(out),
            "--set", f"llm.base_url={server.url}", "--set", "llm.model=scripted-mini", "--set", "llm.max_retries=1",
            "--set", "llm.backoff_base_s=0.01", "--set", "llm.backoff_max_s=0.05", "--set", "llm.concurrency=2",
            "--set", "batch_size=4", *extra]
    return CliRunner().invoke(app, args)


def test_build_instruct_counts_broken_answers(server, tmp_path):
    ann, images = _coco(tmp_path, 4, "[[mock:null_message]]")
    server.script(["ok", "truncated_json", "truncated_json", "empty_choice", "empty_choice"])
    result = _cli(server, ann, images, tmp_path / "out")
    assert result.exit_code == 0, result.output
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    dropped = {k: v for s in stats["funnel"] for k, v in s["dropped"].items()}
    assert dropped.get("bad_response", 0) == 3 * 4 - stats["samples"] >= 10


def test_a_refused_key_stops_the_build_with_a_clear_error(server, tmp_path):
    ann, images = _coco(tmp_path, 12)
    server.default = "401"
    result = _cli(server, ann, images, tmp_path / "out")
    assert result.exit_code != 0  # today: 36 requests sent, an empty dataset and exit 0
    assert "API key" in result.output and "401" in result.output and KEY not in result.output
    assert server.count() <= 2  # the requests already in flight (llm.concurrency), not one per sample
    assert not (tmp_path / "out" / "stats.json").exists()
