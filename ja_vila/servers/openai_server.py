"""A scripted OpenAI-compatible server on 127.0.0.1 for tests and the demo (no network, no model).

``POST …/chat/completions`` (so ``/v1/chat/completions`` and Azure's
``/openai/deployments/{name}/chat/completions`` both work) answers with a deterministic structured
reply built from the request: the captions and objects listed in the last user message (for
caption-based prompts) or the colours of the attached image (for photo prompts), shaped to the
``response_format`` JSON schema the client asked for. The answers are plausible Japanese, good
enough for the demo and for checking the plumbing; they are not a language model.

What a request gets is scripted, first match wins:

1. ``server.script(["429", "ok", ...])`` — a FIFO queue of behaviours, one per request;
2. a marker in the last user message: ``[[mock:BEHAVIOUR]]`` (every time) or
   ``[[mock:BEHAVIOUR*N]]`` (the first N requests carrying that same message, then ``ok``);
3. ``server.default`` (``"ok"``).

Behaviours: ``ok``, ``malformed`` (not JSON), ``invalid`` (JSON of the wrong shape), ``refusal``
(the API's ``refusal`` field), ``429`` (with ``Retry-After: server.retry_after``), ``500``,
``503``, ``hang`` (reads the request, never answers until the server stops), ``drop`` (closes the
connection), ``echo_auth`` (401 whose error message repeats the credentials it got, as careless
proxies do: the client must not log or store it). ``server.delay`` adds seconds before every answer.

Every request is logged in ``server.requests`` (path, headers, body, behaviour, time), so tests can
count requests and check which credentials were sent::

    with ScriptedOpenAIServer() as server:
        client = LLMClient(LLMConfig(provider="openai_compatible", base_url=server.url, ...))
        ...
        assert server.count() == 3
        assert server.requests[0].authorization == "Bearer sk-test-MARKER-123"
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import re
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from ja_vila.servers.loopback_server import LoopbackHTTPServer, LoopbackServer

MARKER = re.compile(r"\[\[mock:([a-z0-9_]+)(?:\*(\d+))?\]\]")
BEHAVIOURS = ("ok", "malformed", "invalid", "refusal", "429", "500", "503", "hang", "drop", "echo_auth")
REFUSAL_TEXT = "申し訳ありませんが、このご依頼にはお応えできません。"


@dataclass
class LoggedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    behaviour: str
    time: float
    last_user_text: str = ""
    answered: bool = False

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")

    @property
    def schema_name(self) -> str | None:
        rf = self.body.get("response_format") or {}
        return (rf.get("json_schema") or {}).get("name")


@dataclass
class _Context:
    captions: list[str] = field(default_factory=list)
    objects: list[tuple[str, tuple[float, float, float, float] | None]] = field(default_factory=list)
    image: bytes | None = None
    text: str = ""


# ------------------------------------------------------------------------------------------------
# Reading the request
# ------------------------------------------------------------------------------------------------
_BOX = re.compile(r"\[\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)\s*,\s*([-\d.]+)\s*\]")


def _last_user(messages: list[dict[str, Any]]) -> tuple[str, bytes | None]:
    for m in reversed(messages):
        if m.get("role") != "user":
            continue
        content = m.get("content")
        if isinstance(content, str):
            return content, None
        texts, image = [], None
        for part in content or []:
            if part.get("type") == "text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "image_url" and image is None:
                url = (part.get("image_url") or {}).get("url", "")
                if url.startswith("data:") and "," in url:
                    with contextlib.suppress(ValueError):
                        image = base64.b64decode(url.split(",", 1)[1])
        return "\n".join(texts), image
    return "", None


def _context(text: str, image: bytes | None) -> _Context:
    ctx = _Context(image=image, text=text)
    section = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("キャプション"):
            section = "captions"
        elif s.startswith("物体"):
            section = "objects"
        elif s.startswith("- ") and section == "captions":
            ctx.captions.append(MARKER.sub("", s[2:]).strip())
        elif s.startswith("- ") and section == "objects":
            name = re.split(r"[\s(（:：\[]", s[2:].strip(), maxsplit=1)[0]
            m = _BOX.search(s)
            box = tuple(float(v) for v in m.groups()) if m else None
            ctx.objects.append((name, box))  # type: ignore[arg-type]
        elif s:
            section = None
    return ctx


# ------------------------------------------------------------------------------------------------
# Writing plausible Japanese answers
# ------------------------------------------------------------------------------------------------
def _where(box: tuple[float, float, float, float] | None) -> str:
    if not box:
        return "中央付近"
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    v = "上部" if cy < 0.33 else "下部" if cy > 0.66 else ""
    h = "左側" if cx < 0.33 else "右側" if cx > 0.66 else ""
    if not v and not h:
        return "中央"
    return f"{h}の{v}" if v and h else (h or v)


def _count(name: str, n: int) -> str:
    return f"{n}人" if name == "人" else f"{n}個"


def _objects_phrase(counts: Counter[str]) -> str:
    parts = [f"{name}（{_count(name, n)}）" if n > 1 else name for name, n in counts.most_common(4)]
    return "、".join(parts) + ("など" if len(counts) > 4 else "")


_COLOURS = [((220, 60, 60), "赤"), ((60, 160, 60), "緑"), ((60, 90, 200), "青"), ((230, 210, 70), "黄色"),
            ((240, 240, 240), "白"), ((30, 30, 30), "黒"), ((140, 140, 140), "灰色"), ((150, 90, 40), "茶色"),
            ((230, 140, 40), "オレンジ"), ((150, 70, 170), "紫"), ((240, 150, 190), "ピンク")]


def _image_facts(data: bytes) -> tuple[str, str, str]:
    """(orientation, dominant colour name, brightness word) of an encoded image."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            raw = im.convert("RGB").resize((8, 8)).tobytes()
    except Exception:
        return "正方形に近い", "灰色", "普通"
    r, g, b = (sum(raw[i::3]) / 64 for i in range(3))
    colour = min(_COLOURS, key=lambda c: sum((a - x) ** 2 for a, x in zip(c[0], (r, g, b), strict=True)))[1]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    orientation = "横長" if w > h * 1.1 else "縦長" if h > w * 1.1 else "正方形に近い"
    brightness = "明るい" if lum > 160 else "暗い" if lum < 80 else "落ち着いた明るさの"
    return orientation, colour, brightness


def _caption_turns(ctx: _Context) -> list[dict[str, str]]:
    counts = Counter(name for name, _ in ctx.objects)
    turns = []
    if counts:
        turns.append({"question": "この画像には何が写っていますか？",
                      "answer": f"画像には{_objects_phrase(counts)}が写っています。"})
        name, n = counts.most_common(1)[0]
        turns.append({"question": f"画像の中に{name}はいくつありますか？", "answer": f"{name}は{_count(name, n)}見えます。"})
        first_name, first_box = ctx.objects[0]
        turns.append({"question": f"{first_name}は画像のどのあたりにありますか？",
                      "answer": f"{first_name}は画像の{_where(first_box)}にあります。"})
    elif ctx.captions:
        turns.append({"question": "この画像はどのような場面ですか？",
                      "answer": f"「{ctx.captions[0]}」と説明される場面です。"})
    if not turns:
        turns.append({"question": "この画像について教えてください。", "answer": "日常の一場面を写した画像です。"})
    return turns


def _photo_turns(ctx: _Context) -> list[dict[str, str]]:
    orientation, colour, brightness = _image_facts(ctx.image or b"")
    return [
        {"question": "この写真について簡単に説明してください。",
         "answer": f"{orientation}の写真で、全体的に{colour}を基調とした色合いです。"},
        {"question": "写真の明るさや雰囲気はどうですか？",
         "answer": f"全体として{brightness}印象の写真で、{colour}系の色が目立ちます。"},
        {"question": "この写真の構図で気づいたことはありますか？",
         "answer": f"{orientation}の画面にいくつかの図形のような形が配置されており、色の境目がはっきりしています。"},
    ]


def _description(ctx: _Context) -> str:
    if ctx.image is not None and not ctx.objects:
        t = _photo_turns(ctx)
        return t[0]["answer"] + t[1]["answer"]
    counts = Counter(name for name, _ in ctx.objects)
    parts = []
    if counts:
        parts.append(f"この画像には{_objects_phrase(counts)}が写っています。")
        for name, box in ctx.objects[:3]:
            parts.append(f"{name}は画像の{_where(box)}に見えます。")
    if ctx.captions:
        parts.append(f"全体として「{ctx.captions[0]}」と表現できる場面です。")
    return "".join(parts) or "日常の一場面を写した画像です。"


def _reasoning(ctx: _Context) -> dict[str, str]:
    counts = Counter(name for name, _ in ctx.objects)
    if counts:
        name, n = counts.most_common(1)[0]
        return {"question": f"この場面で{name}が{_count(name, n)}あることから、どのような状況だと考えられますか？",
                "answer": f"{name}が{_count(name, n)}見えることから、{name}が中心となる場面だと考えられます。"
                          f"{'同じものが複数あるので、販売や展示、あるいは大勢で利用している状況かもしれません。' if n > 1 else '一つだけなので、特定の人や目的のために置かれていると考えられます。'}"}
    return {"question": "この場面からどのようなことが推測できますか？",
            "answer": "写っているものの配置から、日常のありふれた一場面だと推測できます。"}


def _fill_schema(schema: dict[str, Any], ctx: _Context, defs: dict[str, Any], name: str = "") -> Any:
    """A value of ``schema`` filled with short Japanese text (for schemas without a known shape)."""
    if "$ref" in schema:
        return _fill_schema(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), ctx, defs, name)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _fill_schema(schema[key][0], ctx, defs, name)
    t = schema.get("type")
    if t == "object":
        return {k: _fill_schema(v, ctx, defs, k) for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        n = max(int(schema.get("minItems", 0)), 2)
        return [_fill_schema(schema.get("items") or {}, ctx, defs, name) for _ in range(n)]
    if t == "integer":
        return 1
    if t == "number":
        return 1.0
    if t == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return _description(ctx)


def answer_for(body: dict[str, Any]) -> dict[str, Any]:
    """The deterministic structured answer to ``body`` (a chat completion request)."""
    text, image = _last_user(body.get("messages") or [])
    ctx = _context(text, image)
    rf = body.get("response_format") or {}
    js = rf.get("json_schema") or {}
    name = js.get("name", "")
    turns = _photo_turns(ctx) if ctx.image is not None and not ctx.objects else _caption_turns(ctx)
    known = {
        "Conversation": lambda: {"turns": turns},
        "PhotoConversation": lambda: {"turns": turns},
        "DetailedDescription": lambda: {"description": _description(ctx)},
        "ComplexReasoning": lambda: _reasoning(ctx),
    }
    if name in known:
        return known[name]()
    if js.get("schema"):
        return _fill_schema(js["schema"], ctx, js["schema"].get("$defs", {}))
    # JSON mode without a schema: one object that fits every shape the builders ask for
    return {"turns": turns, "description": _description(ctx), **_reasoning(ctx)}


def _tokens(text: str) -> int:
    return max(1, len(text) // 2)


# ------------------------------------------------------------------------------------------------
# The server
# ------------------------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ja-vila-scripted-openai/0.1"
    server: LoopbackHTTPServer

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self):  # noqa: N802
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if not path.endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"unknown route {path}", "type": "invalid_request_error"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}})
            return
        text, _ = _last_user(body.get("messages") or [])
        behaviour = owner._choose(text)
        entry = LoggedRequest(path, {k.lower(): v for k, v in self.headers.items()}, body, behaviour, time.time(), text)
        owner._log(entry)
        if behaviour == "hang":
            owner._stopping.wait(owner.hang_s)
            self.close_connection = True
            return
        if owner.delay:
            owner._stopping.wait(owner.delay)
        if behaviour == "drop":
            self.close_connection = True
            return
        if behaviour == "429":
            self._json(429, {"error": {"message": "Rate limit reached (scripted)", "type": "rate_limit_error"}},
                       headers={"Retry-After": str(owner.retry_after)})
        elif behaviour == "echo_auth":
            seen = self.headers.get("Authorization") or self.headers.get("api-key") or ""
            self._json(401, {"error": {"message": f"Incorrect API key provided: {seen}", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
        elif behaviour in ("500", "503"):
            self._json(int(behaviour), {"error": {"message": "The server had an error (scripted)", "type": "server_error"}})
        else:
            self._json(200, self._completion(body, behaviour))
        entry.answered = True

    def _completion(self, body: dict[str, Any], behaviour: str) -> dict[str, Any]:
        refusal = None
        if behaviour == "refusal":
            content, refusal = None, REFUSAL_TEXT
        elif behaviour == "malformed":
            content = "はい、以下が会話です: {\"turns\": [{\"question\": \"これは"  # not JSON (cut off)
        elif behaviour == "invalid":
            content = json.dumps({"unexpected": "形式が違います"}, ensure_ascii=False)
        else:
            content = json.dumps(answer_for(body), ensure_ascii=False)
        prompt_text = json.dumps(body.get("messages") or [], ensure_ascii=False)
        digest = hashlib.sha256(prompt_text.encode("utf-8")).hexdigest()[:24]
        return {
            "id": f"chatcmpl-{digest}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
            "usage": {"prompt_tokens": _tokens(prompt_text), "completion_tokens": _tokens(content or refusal or ""),
                      "total_tokens": _tokens(prompt_text) + _tokens(content or refusal or "")},
        }


class ScriptedOpenAIServer(LoopbackServer):
    """See the module docstring. Settings may be changed while it runs (tests do)."""

    handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, default: str = "ok", retry_after: str | float = 1,
                 delay: float = 0.0, hang_s: float = 300.0):
        super().__init__(host, port)
        self.default = default
        self.retry_after = retry_after
        self.delay = delay
        self.hang_s = hang_s
        self.requests: list[LoggedRequest] = []
        self._queue: deque[str] = deque()
        self._marker_counts: Counter[str] = Counter()

    @property  # the client's base URL, which the OpenAI SDK expects to end in /v1
    def url(self) -> str:  # type: ignore[override]
        """Base URL for the client (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url

    # -- scripting -------------------------------------------------------------------------------
    def script(self, behaviours: list[str]) -> None:
        """Queue behaviours for the next requests, one each, before markers and the default."""
        bad = [b for b in behaviours if b not in BEHAVIOURS]
        if bad:
            raise ValueError(f"unknown behaviours {bad}; known: {BEHAVIOURS}")
        with self._lock:
            self._queue.extend(behaviours)

    def count(self, behaviour: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if behaviour is None or r.behaviour == behaviour)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._marker_counts.clear()

    def _choose(self, text: str) -> str:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            m = MARKER.search(text)
            if m and m.group(1) in BEHAVIOURS:
                if m.group(2) is None:
                    return m.group(1)
                key = hashlib.sha256(text.encode("utf-8")).hexdigest()
                self._marker_counts[key] += 1
                return m.group(1) if self._marker_counts[key] <= int(m.group(2)) else "ok"
            return self.default

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)



def main(argv: list[str] | None = None) -> None:
    """``python -m ja_vila.servers.openai_server [--port N]``: serve until interrupted (manual tries)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with ScriptedOpenAIServer(port=args.port) as server:
        sys.stderr.write(f"serving on {server.url}\n")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
