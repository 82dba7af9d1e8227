"""The ``llmjp_v3`` conversation format of LLM-jp-3 VILA as a Jinja chat template.

One turn renders as::

    以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\\n\\n### 指示:\\n<image>\\n{question}\\n\\n### 応答:\\n{answer}</s>

Further turns continue with ``\\n\\n### 指示:\\n…``. A leading ``system`` message replaces the default
instruction line. Message content is either a string (the project's instruct schema stores
``<image>\\n`` inside the first user turn) or a list of ``{"type": "image"}`` / ``{"type": "text"}``
parts, as ``pipeline("image-text-to-text")`` sends it (an image part renders as ``<image>\\n``).

The assistant answer and its EOS sit inside ``{% generation %}`` markers, so
``apply_chat_template(..., return_assistant_tokens_mask=True)`` marks exactly the tokens that carry
the loss in step 2.
"""

from __future__ import annotations

SYSTEM_PROMPT = "以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。"

LLMJP_V3_CHAT_TEMPLATE = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{ content }}"
    "{%- else -%}{%- for part in content -%}"
    "{%- if part['type'] == 'image' -%}{{ '<image>\\n' }}"
    "{%- elif part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system = render(messages[0]['content']) -%}{%- set turns = messages[1:] -%}"
    "{%- else -%}{%- set system = '" + SYSTEM_PROMPT + "' -%}{%- set turns = messages -%}{%- endif -%}"
    "{{ bos_token if bos_token else '' }}{{ system }}"
    "{%- for message in turns -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{ '\\n\\n### 指示:\\n' }}{{ render(message['content']) }}{{ '\\n\\n### 応答:\\n' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{% generation %}{{ render(message['content']) }}{{ eos_token }}{% endgeneration %}"
    "{%- endif -%}"
    "{%- endfor -%}"
)

#: The plain format of step 0 (and the pairs of step 1): the image, then its caption.
PLAIN_FORMAT = "<image>{caption}\n"
