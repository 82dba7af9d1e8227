"""Render one sample of any of the three schemas into token ids, labels and its images.

- pairs (steps 0 and 1): the plain format ``<image>{caption}\\n`` — loss on the caption and newline;
- interleaved (step 1): the sentences in order, ``<image>`` after the sentence it belongs to
  (``image_positions[k]``), then EOS — loss on all text;
- instruct (step 2): ``llmjp_v3`` via the chat template — loss only on the assistant answers and
  their EOS (the template's ``{% generation %}`` markers).

Each ``<image>`` is expanded to ``image_seq_length`` image tokens here (729 for the real model), so
the row length is exact before any image is decoded; image tokens, BOS, prompts and the template
never carry a label (-100).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import PreTrainedTokenizerBase

from dataset_builders.errors import UserInputError
from training.assemble import IMAGE_TOKEN
from training.chat_template import LLMJP_V3_CHAT_TEMPLATE
from training.data.shards import sample_images, sample_kind

IGNORE_INDEX = -100

_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


class SkipSample(ValueError):
    """A sample that cannot be trained on; ``reason`` is counted (``dropped_<reason>``)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Rendered:
    """One rendered sample: ids with image tokens expanded, labels, and the raw image bytes."""

    input_ids: list[int]
    labels: list[int]
    images: list[bytes]
    key: str = ""
    kind: str = ""
    seq_lengths: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_ids": self.input_ids,
            "labels": self.labels,
            "images": self.images,
            "seq_lengths": self.seq_lengths or [len(self.input_ids)],
        }


class Renderer:
    """Turns samples into :class:`Rendered` rows for one tokenizer and image-token count.

    Args:
        tokenizer: the model's tokenizer (``<image>`` must be one token).
        image_seq_length: image tokens per image (``config.image_seq_length``; 729 for the real model).
        max_length: longest row; longer samples raise :class:`SkipSample` (``too_long``), never cut.
        chat_template: the template instruct samples render with (``llmjp_v3`` by default).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        image_seq_length: int,
        max_length: int,
        chat_template: str = LLMJP_V3_CHAT_TEMPLATE,
    ):
        self.tokenizer = tokenizer
        self.image_seq_length = image_seq_length
        self.max_length = max_length
        self.chat_template = chat_template
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise UserInputError(f"the tokenizer has no {IMAGE_TOKEN} token; assemble the model with training.assemble")
        self._no_label = {self.image_token_id, tokenizer.bos_token_id, tokenizer.pad_token_id} - {None}

    # -- formats ----------------------------------------------------------------------------------
    def plain_text(self, caption: str) -> str:
        return f"{IMAGE_TOKEN}{caption.strip()}\n"

    def interleaved_text(self, texts: list[str | None], positions: list[int]) -> str:
        parts = []
        for i, sentence in enumerate(texts):
            parts.append(sentence or "")
            parts.append(IMAGE_TOKEN * positions.count(i))
        return "".join(parts) + (self.tokenizer.eos_token or "")

    def conversation(self, turns: list[dict[str, Any]]) -> list[dict[str, str]]:
        messages = []
        for turn in turns:
            role = _ROLES.get(str(turn.get("role", turn.get("from", ""))).lower())
            content = turn.get("content", turn.get("value"))
            if role is None or not isinstance(content, str):
                raise SkipSample("bad_conversation", f"turn {turn!r} has no known role or no text content")
            messages.append({"role": role, "content": content})
        first_user = next((m for m in messages if m["role"] == "user"), None)
        if first_user is not None and not any(IMAGE_TOKEN in m["content"] for m in messages):
            first_user["content"] = f"{IMAGE_TOKEN}\n{first_user['content']}"
        return messages

    # -- rendering --------------------------------------------------------------------------------
    def render(self, sample: dict[str, Any]) -> Rendered:
        """Render ``sample``; raises :class:`SkipSample` with a reason when it cannot be used."""
        key = str(sample.get("__key__", ""))
        try:
            kind = sample_kind(sample)
        except ValueError as e:
            raise SkipSample("unknown_schema", str(e)) from e
        images = sample_images(sample)
        meta = sample.get("json") or {}
        if kind == "pairs":
            ids, labels = self._plain(self.plain_text(sample.get("txt") or ""))
        elif kind == "interleaved":
            texts, positions = meta.get("texts") or [], list(meta.get("image_positions") or [])
            ids, labels = self._plain(self.interleaved_text(texts, positions))
        else:
            ids, labels = self._chat(self.conversation(meta.get("conversations") or []))
        n_placeholders = ids.count(self.image_token_id)
        if n_placeholders != len(images):
            raise SkipSample(
                "image_count_mismatch", f"sample {key}: {n_placeholders} {IMAGE_TOKEN} in the text, {len(images)} images"
            )
        if not any(label != IGNORE_INDEX for label in labels):
            raise SkipSample("no_labels", f"sample {key}: nothing to learn (no text after rendering)")
        ids, labels = self._expand(ids, labels)
        if len(ids) > self.max_length:
            raise SkipSample("too_long", f"sample {key}: {len(ids)} tokens > max_length {self.max_length}")
        return Rendered(ids, labels, images, key=key, kind=kind)

    def _plain(self, text: str) -> tuple[list[int], list[int]]:
        bos = self.tokenizer.bos_token or ""
        ids = self.tokenizer(bos + text, add_special_tokens=False)["input_ids"]
        labels = [IGNORE_INDEX if t in self._no_label else t for t in ids]
        return ids, labels

    def _chat(self, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
        out = self.tokenizer.apply_chat_template(
            messages,
            chat_template=self.chat_template,
            tokenize=True,
            return_dict=True,
            return_assistant_tokens_mask=True,
        )
        ids, mask = list(out["input_ids"]), list(out["assistant_masks"])
        labels = [t if m and t not in self._no_label else IGNORE_INDEX for t, m in zip(ids, mask, strict=True)]
        return ids, labels

    def _expand(self, ids: list[int], labels: list[int]) -> tuple[list[int], list[int]]:
        if self.image_seq_length == 1:
            return ids, labels
        out_ids: list[int] = []
        out_labels: list[int] = []
        for t, label in zip(ids, labels, strict=True):
            if t == self.image_token_id:
                out_ids.extend([t] * self.image_seq_length)
                out_labels.extend([IGNORE_INDEX] * self.image_seq_length)
            else:
                out_ids.append(t)
                out_labels.append(label)
        return out_ids, out_labels
