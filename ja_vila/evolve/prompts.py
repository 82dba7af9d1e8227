"""The agents' prompts (Japanese), one builder per role.

Prompts carry the generation and the accepted-task archive, so a later generation never repeats an
earlier request (and never gets its cached answer back).
"""

from __future__ import annotations

from collections.abc import Sequence

from ja_vila.evolve.failures import Failure
from ja_vila.evolve.schemas import ProposedTask

SYSTEM_PROPOSER = ("あなたは視覚言語モデル（VLM）の学習データを設計する研究者です。"
                   "モデルの誤答を分析し、弱点を補う新しいファインチューニング用タスクを設計します。")
SYSTEM_ANNOTATOR = "あなたは画像を注意深く観察し、正確な日本語の指示文と回答を作成するアノテーターです。"


def _task_lines(tasks: Sequence[ProposedTask]) -> str:
    return "\n".join(f"- {t.name}: {t.instruction}" for t in tasks) or "- （なし）"


def proposer_prompt(generation: int, n: int, failures: Sequence[Failure], archive: Sequence[ProposedTask],
                    rejected: Sequence[ProposedTask] = ()) -> str:
    lines = [f"第{generation}世代のタスク設計です。",
             "以下は検証データでモデルが誤答した例です（質問 / 正解 / モデルの回答）。",
             "誤答例:"]
    lines += [f"- {f.question} / 正解: {f.gold} / 回答: {f.prediction}" for f in failures] or ["- （なし）"]
    lines += ["これまでに採用されたタスク:", _task_lines(archive)]
    if rejected:
        lines += ["次のタスクは既存のタスクと似すぎていたため却下されました。これらとも異なるタスクにしてください:",
                  _task_lines(rejected)]
    lines.append(f"モデルの弱点を補う新しいタスクを{n}個、タスク名と指示文の組で提案してください。"
                 "既存のタスクと重複しないこと。")
    return "\n".join(lines)


def refiner_prompt(generation: int, tasks: Sequence[ProposedTask]) -> str:
    return "\n".join([f"第{generation}世代のタスク案を洗練してください。",
                      "タスク案:", _task_lines(tasks),
                      f"各タスクの指示文をより具体的で曖昧さのないものに書き直し、同じ順序で{len(tasks)}個返してください。"])


def selector_prompt(generation: int, tasks: Sequence[ProposedTask], n: int) -> str:
    numbered = "\n".join(f"{i}. {t.name}: {t.instruction}" for i, t in enumerate(tasks))
    return "\n".join([f"第{generation}世代: 洗練されたタスク案から、最も有用で互いに多様な{n}個を選んでください。",
                      "タスク案（番号: タスク名: 指示文）:", numbered,
                      f"選んだタスクの番号（0始まり）を{n}個返してください。"])


def annotator_prompt(task: ProposedTask) -> str:
    return "\n".join(["画像を見て、次のタスクに沿った指示文（質問）と、その正確な回答を日本語で作成してください。",
                      f"タスク名: {task.name}", f"タスクの説明: {task.instruction}",
                      "回答は画像から確実に読み取れる内容だけにしてください。"])


def caption_prompt() -> str:
    return "この画像を、写っている物体、文字、色、位置関係を含めてできるだけ詳しく日本語で説明してください。"


def qa_prompt(caption: str, n: int) -> str:
    return "\n".join(["次は画像の詳細な説明です。", "キャプション:", f"- {caption}",
                      f"この画像について、説明から答えられる質問と回答の組を{n}個作成してください。"])


def evolve_prompt(caption: str, question: str, answer: str) -> str:
    return "\n".join(["次は画像の詳細な説明と、画像についての質問と回答です。", "キャプション:", f"- {caption}",
                      f"質問: {question}", f"回答: {answer}",
                      "この質問を、より簡単な質問と、より難しい質問に発展させ、それぞれの回答も作成してください。"])
