"""Japanese prompts for LLaVA-style instruction data from COCO captions and boxes (text-only model).

Three tasks, as in LLaVA-Instruct-158K and the LLM-jp-3 VILA paper (§3 指示データ): ``conversation``
(multi-turn QA), ``detail`` (a detailed description) and ``complex_reasoning`` (a question that
needs reasoning, answered in detail). The model sees only the captions and the boxes, so every
prompt insists on questions answerable from them, and on answers written as if looking at the
image (never "according to the caption"). One hand-written few-shot example per task.

Change any prompt text → bump :data:`PROMPT_VERSION` (it is recorded in every sample and the card,
and it is part of the cache key through the prompt text).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel

from dataset_builders.instruct.annotations import ImageAnnotation
from dataset_builders.instruct.answers import ComplexReasoning, Conversation, DetailedDescription
from dataset_builders.instruct.coco_categories import ja_name
from dataset_builders.llm.messages import Message

PROMPT_VERSION = "coco-ja-v1"
TASKS = ("conversation", "detail", "complex_reasoning")

_CONTEXT_RULES = """\
これから 1 枚の画像について、その画像を説明する英語のキャプション（複数）と、写っている物体のカテゴリおよびバウンディングボックスが与えられます。\
バウンディングボックスは画像の幅と高さを 1 とした正規化座標 [x1, y1, x2, y2]（左上の点と右下の点）で、x は左から右、y は上から下に増えます。\
あなたは実際にその画像を見ている視覚 AI アシスタントとして振る舞ってください。"""

_WRITING_RULES = """\
- すべて自然で丁寧な日本語で書いてください。英語のキャプションをそのまま引用したり、直訳調の不自然な文にしたりしないでください。
- 「キャプションによると」「バウンディングボックスから」「座標によると」のように、与えられた説明文や座標に言及してはいけません。座標の数値も書かないでください。画像を直接見て答えているように書いてください。
- 与えられた情報から確実に言えることだけを書き、写っていない物や不確かな細部（人物の名前、正確な場所、文字の内容など）を作り上げないでください。
- 位置は「左側」「右上」「手前」「〜の隣」のような自然な言葉で表してください。"""

SYSTEM = {
    "conversation": f"""{_CONTEXT_RULES}

この画像について、画像のことを尋ねる人とアシスタントとの会話を作成してください。
- 質問は多様にしてください。物体の種類、数、動作、位置、物体どうしの位置関係などを尋ねる質問を含めてください。
- 答えが確実に決まる質問だけを含めてください。つまり (1) 画像に写っている内容から自信をもって答えられる、または (2) 画像に写っていないと自信をもって判断できる、のどちらかを満たす質問です。
- 画像の内容に関連する、より複雑な質問（写っている物に関する背景知識、画像の中で起きている出来事についての考察など）も 1 つ以上含めてください。複雑な質問には、例や理由を挙げて詳しく答えてください。
{_WRITING_RULES}
- 3〜5 往復の会話にしてください。

出力は次の形式の JSON だけにしてください: {{"turns": [{{"question": "質問", "answer": "回答"}}, ...]}}""",
    "detail": f"""{_CONTEXT_RULES}

与えられた情報を使って、この画像に写っている場面を詳しく説明する文章を書いてください。
- 物体の数、物体の位置、物体どうしの位置関係、人や動物の動作、場面全体の雰囲気を含めてください。
{_WRITING_RULES}
- 4〜8 文程度の一続きの文章にしてください。

出力は次の形式の JSON だけにしてください: {{"description": "説明文"}}""",
    "complex_reasoning": f"""{_CONTEXT_RULES}

与えられた情報をもとに、この画像についての「推論を必要とする質問」を 1 つ作り、詳しく答えてください。
- 場面を説明するだけの質問ではなく、まず画像の内容を理解し、そのうえで背景知識や推論を使って「なぜそうなっているのか」を説明したり、ユーザーの依頼に対して助言や手助けをしたりする質問にしてください。
- 質問文には画像の細部を書き込みすぎず、答える側が画像を見て考える必要がある質問にしてください。
- 回答は、根拠を示しながら段階的に、説得力のある内容で書いてください。
{_WRITING_RULES}

出力は次の形式の JSON だけにしてください: {{"question": "質問", "answer": "回答"}}""",
}

SCHEMAS: dict[str, type[BaseModel]] = {
    "conversation": Conversation,
    "detail": DetailedDescription,
    "complex_reasoning": ComplexReasoning,
}

#: The user turn of a ``detail`` sample: the model writes only the description (as LLaVA does).
DETAIL_QUESTIONS = (
    "この画像を詳しく説明してください。",
    "画像に写っているものを詳しく説明してください。",
    "この画像の様子を詳細に教えてください。",
    "この写真で何が起きているのか、詳しく説明してください。",
    "画像の内容を丁寧に描写してください。",
    "この場面について、見えるものを詳しく述べてください。",
    "この画像にはどのような光景が写っていますか？詳しく説明してください。",
    "画像の中の物や人、その配置について詳しく説明してください。",
)

# -- the few-shot example (a made-up street scene, written for these prompts) -----------------------
_EXAMPLE = ImageAnnotation(
    image_id="example",
    file_name="example.jpg",
    captions=[
        "A man riding a bicycle down a street next to a red bus.",
        "A cyclist passes a large red bus on a city road.",
        "A person on a bike beside a big red bus.",
        "A city street with a bus and a bicycle rider near a traffic light.",
        "A red bus stopped on the road while a man rides his bike.",
    ],
)
_EXAMPLE_BOXES = [
    ("person", (0.120, 0.410, 0.310, 0.880)),
    ("bicycle", (0.100, 0.600, 0.350, 0.950)),
    ("bus", (0.420, 0.150, 0.980, 0.850)),
    ("traffic light", (0.020, 0.050, 0.080, 0.250)),
]

_EXAMPLE_ANSWERS = {
    "conversation": """{"turns": [\
{"question": "画像に写っている乗り物は何ですか？", "answer": "赤い大型のバスと自転車が写っています。バスは画像の右側の大部分を占めていて、自転車は左側の手前にあります。"}, \
{"question": "自転車に乗っている人はいますか？", "answer": "はい、男性が一人、自転車に乗って道路を走っています。"}, \
{"question": "男性はバスから見てどちら側にいますか？", "answer": "男性はバスの左側、少し手前にいて、ちょうどバスの横を通り過ぎようとしているところです。"}, \
{"question": "近くに信号機はありますか？", "answer": "はい、画像の左上の隅に信号機が一つ見えます。交差点の近くのようです。"}, \
{"question": "このような道路で自転車に乗るときは、どのようなことに気をつけるとよいですか？", "answer": "大型のバスのすぐ横を走るときは、運転席から自転車が見えにくい死角に入りやすいことに注意が必要です。バスが急に発車したり曲がったりすることもあるので、十分な間隔をあけ、無理に追い越さないようにするのが安全です。また、信号機のある交差点の近くなので、信号の変化や横断する歩行者にも気を配るべきです。"}]}""",
    "detail": """{"description": "街中の道路を写した画像です。画像の右側には赤い大型のバスが大きく写っていて、道路上に停まっているか、ゆっくり走っているように見えます。左側の手前では、男性が一人自転車に乗り、バスの横を通り過ぎようとしています。画像の左上の隅には信号機が一つあり、交差点の近くであることがうかがえます。大きなバスと小さな自転車が並ぶことで、道路の広さや車両の大きさの違いがよくわかります。全体として、バスと自転車が同じ道路を行き交う、都市の日常的な交通の様子を捉えた場面です。"}""",
    "complex_reasoning": """{"question": "この状況で、自転車に乗っている人が安全に進むためにはどのような点に注意すべきでしょうか？", "answer": "この画像では、男性が大型のバスのすぐ横を自転車で走っています。大型車は車体が長く、運転席から左後方が見えにくいため、自転車がバスの死角に入ってしまう危険があります。まず、バスとの間に十分な間隔をとり、バスが停車中であっても急に発車する可能性を考えて、無理に追い越さないことが大切です。次に、左上に信号機が見えることから交差点が近いと考えられるので、バスが左折する場合には巻き込まれないよう、バスの前に出ず後ろで待つのが安全です。さらに、停留所でバスから降りてくる乗客が道路を横切ることもあるため、速度を落として周囲をよく確認しながら進むべきです。"}""",
}


def annotation_text(ann: ImageAnnotation, boxes: list[tuple[str, tuple[float, float, float, float]]] | None = None) -> str:
    """The user message describing one image: its captions, then its objects with boxes."""
    lines = ["キャプション:"]
    lines += [f"- {c}" for c in ann.captions] or ["- (なし)"]
    lines.append("物体（カテゴリ: [x1, y1, x2, y2]）:")
    items = boxes if boxes is not None else [(b.category, b.bbox) for b in ann.boxes]
    lines += [f"- {ja_name(cat)}: [{x1:.3f}, {y1:.3f}, {x2:.3f}, {y2:.3f}]" for cat, (x1, y1, x2, y2) in items]
    if not items:
        lines.append("- (なし)")
    return "\n".join(lines)


def build_messages(task: str, ann: ImageAnnotation) -> list[Message]:
    """System prompt, one worked example (user annotation → assistant JSON), then this image."""
    if task not in SYSTEM:
        raise ValueError(f"unknown COCO task {task!r}; use one of {TASKS}")
    return [
        Message.text("system", SYSTEM[task]),
        Message.text("user", annotation_text(_EXAMPLE, _EXAMPLE_BOXES)),
        Message.text("assistant", _EXAMPLE_ANSWERS[task]),
        Message.text("user", annotation_text(ann)),
    ]


def detail_question(image_id: str) -> str:
    """The instruction of a ``detail`` sample, picked from :data:`DETAIL_QUESTIONS` by image id (stable)."""
    h = int.from_bytes(hashlib.sha1(image_id.encode("utf-8")).digest()[:4], "little")
    return DETAIL_QUESTIONS[h % len(DETAIL_QUESTIONS)]
