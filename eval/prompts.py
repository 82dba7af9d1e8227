"""How a question is put to each model: the processor's chat template when it has one, the
``llmjp_v3`` conversation format of LLM-jp-3 VILA for our checkpoints (which carry no template).

    以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。

    ### 指示:
    <image>
    {question}

    ### 応答:
"""

from __future__ import annotations

from typing import Any

from dataset_builders.errors import UserInputError

LLMJP_V3_SYSTEM = "以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。"
LLMJP_V3_TEMPLATE = LLMJP_V3_SYSTEM + "\n\n### 指示:\n{image}\n{question}\n\n### 応答:\n"
#: ``auto``: the chat template when the processor has one, else ``llmjp_v3``.
PROMPT_FORMATS = ("auto", "chat_template", "llmjp_v3")


def image_token(processor: Any) -> str:
    return getattr(processor, "image_token", None) or "<image>"


def resolve_format(processor: Any, requested: str = "auto") -> str:
    """The format to use for ``processor`` (``auto`` decides by the presence of a chat template)."""
    if requested not in PROMPT_FORMATS:
        raise UserInputError(f"prompt format {requested!r} is not one of {PROMPT_FORMATS}")
    has_template = bool(getattr(processor, "chat_template", None))
    if requested == "chat_template" and not has_template:
        raise UserInputError("the processor has no chat template; use --prompt-format llmjp_v3")
    if requested == "auto":
        return "chat_template" if has_template else "llmjp_v3"
    return requested


def build_prompt(processor: Any, question: str, fmt: str) -> str:
    """The full text prompt (with the image placeholder) for one question."""
    if fmt == "llmjp_v3":
        return LLMJP_V3_TEMPLATE.format(image=image_token(processor), question=question)
    if fmt == "chat_template":
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    raise ValueError(f"unknown prompt format {fmt!r}")


def clean_answer(text: str, fmt: str) -> str:
    """The answer without what a base model may run on into (the next ``### 指示:`` turn)."""
    if fmt == "llmjp_v3":
        for stop in ("\n### 指示:", "\n### 応答:", "### 指示:"):
            text = text.split(stop, 1)[0]
    return text.strip()
