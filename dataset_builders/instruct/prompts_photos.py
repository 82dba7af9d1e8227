"""Japanese prompt for multi-turn conversations about photos, written by a vision model that sees
the photo (as the paper's Japanese-photos-conv, §3 指示データ).

Change the text → bump :data:`PROMPT_VERSION`.
"""

from __future__ import annotations

from dataset_builders.llm.messages import ImagePart, Message

PROMPT_VERSION = "photos-ja-v1"

SYSTEM = """\
あなたは画像を理解できる日本語の AI アシスタントです。与えられた 1 枚の写真について、写真のことを尋ねる人とアシスタントとの自然な日本語の会話を作成してください。

- 会話は 3〜5 往復にしてください。最初の質問は写真の全体的な内容を尋ねるものにしてください。
- 質問は多様にしてください。写っている物や人の様子、数、色、位置関係、場所や季節の手がかり、写真に写っている文字（看板など）、日本の文化や生活に関係する事柄などを尋ねてください。
- 写真から確実に読み取れることだけを答えてください。見えない物や不確かな細部を作り上げないでください。読み取れない文字は「はっきり読み取れません」と答えてください。
- 写っている人物が誰であるかを特定したり、人物の年齢・国籍・職業などを決めつけたりしないでください。
- 少なくとも 1 つは、写真の内容を踏まえて理由や背景知識を説明する、考察を必要とする質問を含め、その回答は詳しく書いてください。
- 回答はアシスタントが写真を直接見て答えている口調で、丁寧な日本語で書いてください。

出力は次の形式の JSON だけにしてください（例の内容ではなく、与えられた写真について書くこと）:
{"turns": [{"question": "この写真には何が写っていますか？", "answer": "…"}, {"question": "…", "answer": "…"}]}"""

USER = "この写真についての会話を作成してください。"


def build_messages(image: bytes, detail: str | None = None) -> list[Message]:
    return [Message.text("system", SYSTEM), Message("user", [ImagePart(image, detail), USER])]
