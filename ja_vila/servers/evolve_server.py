"""The scripted OpenAI-compatible server taught the ``ja-vila evolve`` answer shapes (the demo, the tiny
preset and the tests).

:class:`~ja_vila.servers.openai_server.ScriptedOpenAIServer` fills unknown schemas with one
description for every string, so every proposed task would be the same. This subclass answers the
evolve schemas deterministically instead:

* ``TaskProposal`` — the proposer takes the next N tasks of ``server.task_pool`` (a cursor, so
  near-duplicates can be scripted); the refiner (prompt with 洗練) returns the listed tasks with a
  sharper instruction;
* ``TaskSelection`` — the first N indices;
* ``Annotation`` — the image's dominant colour as the answer; for a task in
  ``server.disagree_tasks`` the answer depends on the request's seed (k annotations disagree);
  ``server.answer_override`` maps a task name to a fixed answer (the OCR cross-check);
* ``DetailedCaption`` / ``QAPairs`` / ``EvolvedQuestion`` — colour and shape facts of the image.

Behaviours (``script``, ``[[mock:...]]``, ``default``) work as in the base server.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ja_vila.servers.openai_server import ScriptedOpenAIServer, _Handler, _image_facts, _last_user

DEFAULT_TASK_POOL = [
    ("看板の文字読み取り", "写真の中の看板に書かれている文字列をそのまま書き起こしてください。"),
    ("物体の数え上げ", "画像に写っている同じ種類の物体がいくつあるかを数えて答えてください。"),
    ("色の識別", "画面全体で最も広い面積を占めている色の名前を一語で答えてください。"),
    ("位置関係の説明", "二つの物体のうち、どちらが左側にあるかを理由とともに説明してください。"),
    ("価格表示の理解", "値札やメニューに示された金額を読み、最も高い商品を特定してください。"),
    ("時刻表の検索", "駅の時刻表から、指定した時刻の直後に出発する列車を探してください。"),
    ("ブランド名の特定", "ロゴやパッケージからメーカーや商品のブランド名を推定してください。"),
    ("場面の推論", "人々の服装や天気から、季節と撮影された時間帯を推測してください。"),
    ("表の数値比較", "グラフや表の中の数値を比べ、最大の項目とその値を示してください。"),
    ("標識の意味", "道路標識が運転者に何を禁止または指示しているかを説明してください。"),
    ("文書の見出し", "書類や本の表紙から題名、著者名、巻数などの書誌情報を抜き出してください。"),
    ("感情の読み取り", "写っている人物の表情から、その人がどのような気持ちかを述べてください。"),
    ("材質の判定", "机や床などの表面が木、金属、布のどれでできているかを判断してください。"),
    ("安全上の注意", "この場所で事故が起こりそうな危険箇所を指摘し、その対策を提案してください。"),
    ("料理の説明", "皿の上の料理名を推定し、主な食材を列挙してください。"),
    ("ナンバープレートの読み取り", "車のナンバープレートに書かれた番号と地名を読み取ってください。"),
]

_N = re.compile(r"(\d+)個")
_TASK_LINE = re.compile(r"^- (.+?): (.+)$", re.MULTILINE)
_TASK_NAME = re.compile(r"^タスク名: (.+)$", re.MULTILINE)


class _EvolveHandler(_Handler):
    def _completion(self, body: dict[str, Any], behaviour: str) -> dict[str, Any]:
        out = super()._completion(body, behaviour)
        if behaviour == "ok":
            answer = self.server.owner.evolve_answer(body)
            if answer is not None:
                out["choices"][0]["message"]["content"] = json.dumps(answer, ensure_ascii=False)
        return out


class EvolveScriptedServer(ScriptedOpenAIServer):
    """See the module docstring; settings may be changed between runs."""

    handler_class = _EvolveHandler

    def __init__(self, *args: Any, task_pool: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.task_pool = list(task_pool or DEFAULT_TASK_POOL)
        self.cursor = 0
        self.disagree_tasks: set[str] = set()
        self.answer_override: dict[str, str] = {}

    def _next_tasks(self, n: int) -> list[dict[str, str]]:
        with self._lock:
            out = []
            for _ in range(n):
                name, instruction = self.task_pool[self.cursor % len(self.task_pool)]
                self.cursor += 1
                out.append({"name": name, "instruction": instruction})
            return out

    def evolve_answer(self, body: dict[str, Any]) -> dict[str, Any] | None:
        text, image = _last_user(body.get("messages") or [])
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
        m = _N.search(text)
        n = int(m.group(1)) if m else 3
        _, colour, _ = _image_facts(image) if image else ("", "灰色", "")
        orientation = _image_facts(image)[0] if image else "正方形に近い"
        if name == "TaskProposal":
            if "洗練" in text:
                return {"tasks": [{"name": a, "instruction": b + "（回答は一文で）"}
                                  for a, b in _TASK_LINE.findall(text.split("タスク案:", 1)[-1])]}
            return {"tasks": self._next_tasks(n)}
        if name == "TaskSelection":
            return {"selected": list(range(n))}
        if name == "Annotation":
            tm = _TASK_NAME.search(text)
            task = tm.group(1).strip() if tm else ""
            answer = self.answer_override.get(task, f"{colour}です。")
            if task in self.disagree_tasks:
                answer = f"{colour}と{body.get('seed', 0)}番目の候補です。"
            return {"instruction": f"{task}: この画像について答えてください。", "answer": answer}
        if name == "DetailedCaption":
            return {"caption": f"{orientation}の画像で、全体が{colour}に塗られています。"}
        if name == "QAPairs":
            pairs = [{"question": "この画像の主な色は何ですか？", "answer": f"{colour}です。"},
                     {"question": "この画像の形はどうなっていますか？", "answer": f"{orientation}です。"},
                     {"question": "画像に模様はありますか？", "answer": "模様はなく、一色です。"}]
            return {"pairs": (pairs * n)[:n]}
        if name == "EvolvedQuestion":
            q = re.search(r"^質問: (.+)$", text, re.MULTILINE)
            a = re.search(r"^回答: (.+)$", text, re.MULTILINE)
            question, ans = (q.group(1) if q else ""), (a.group(1) if a else "")
            return {"easier": {"question": f"{colour}は見えますか？", "answer": "はい、見えます。"},
                    "harder": {"question": f"{question}その理由も説明してください。",
                               "answer": f"{ans}画像全体が{colour}だからです。"}}
        return None
