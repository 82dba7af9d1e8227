"""Secrets in logs: with ``-v`` the HTTP clients log at DEBUG, and a key that the HTTP layer refuses
(a control character in it) appears there in escaped form; the handler redacts every form."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from dataset_builders.llm import LLMConfig, LLMRequest, Message, run_requests
from ja_vila.logs import setup_logging
from ja_vila.servers.openai_server import ScriptedOpenAIServer

TAIL = "CONTROL-CHAR-KEY-0123456789"


class Answer(BaseModel):
    description: str


def test_a_key_with_a_control_character_never_reaches_the_log(monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", f"sk-faults\n{TAIL}")
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in logging.root.manager.loggerDict}
    try:
        setup_logging(verbose=True)
        with ScriptedOpenAIServer() as server:
            cfg = LLMConfig(provider="openai", base_url=server.url, model="m", timeout_s=5, max_retries=0,
                            max_parse_retries=0, cache_dir=None)
            results, _ = run_requests(cfg, [LLMRequest([Message.text("user", "説明して")], Answer, label="k")])
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    err = capsys.readouterr().err
    assert results[0].status == "failed"  # the HTTP layer refuses the header ...
    assert "DEBUG" in err and "REDACTED" in err  # ... and says so at DEBUG, with the key redacted
    assert TAIL not in err
