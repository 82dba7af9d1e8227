"""Render one sample of any of the three schemas into token ids, labels and its images.

- pairs (steps 0 and 1): the plain format ``<image>{caption}\\n`` — loss on the caption and newline;
- interleaved (step 1): the sentences in order, ``<image>`` after the sentence it belongs to
  (``image_positions[k]``; images are put in text order), then EOS — loss on all text;
- instruct (step 2): ``llmjp_v3`` via the chat template — with ``assistant_only_loss`` (the
  recipe) loss only on the assistant answers and their EOS (the template's ``{% generation %}``
  markers), without it on every text token of the conversation.

Each ``<image>`` is expanded to ``image_seq_length`` image tokens here (729 for the real model), so
the row length is exact before any image is decoded; image tokens and BOS never carry a label (-100).

Longer than ``max_length`` (TRL's ``truncation_mode="keep_start"``): an interleaved document keeps
its longest prefix of whole sentences, each with its images, that fits (no EOS: the document goes
on); it needs one image and some text left, else it is dropped. A pair or a conversation is
dropped (``too_long``): a cut caption or answer would teach the model to stop mid-sentence, and a
cut through image tokens breaks Llava.
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
    source: str = ""
    truncated: bool = False
    #: ``(source, tokens, labelled tokens, images)`` of every sample in the row (set by the stream / packer)
    parts: list[tuple[str, int, int, int]] = field(default_factory=list)

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
        assistant_only_loss: conversations carry labels on the assistant answers only (step 2's recipe).
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        image_seq_length: int,
        max_length: int,
        chat_template: str = LLMJP_V3_CHAT_TEMPLATE,
        assistant_only_loss: bool = True,
    ):
        self.tokenizer = tokenizer
        self.image_seq_length = image_seq_length
        self.max_length = max_length
        self.chat_template = chat_template
        self.assistant_only_loss = assistant_only_loss
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if self.image_token_id is None or self.image_token_id == tokenizer.unk_token_id:
            raise UserInputError(f"the tokenizer has no {IMAGE_TOKEN} token; assemble the model with training.assemble")
        self._no_label = {self.image_token_id, tokenizer.bos_token_id, tokenizer.pad_token_id} - {None}

    # -- formats ----------------------------------------------------------------------------------
    def plain_text(self, caption: str) -> str:
        return f"{IMAGE_TOKEN}{caption.strip()}\n"

    def interleaved_text(self, texts: list[str | None], positions: list[int], eos: bool = True) -> str:
        parts = []
        for i, sentence in enumerate(texts):
            parts.append(sentence or "")
            parts.append(IMAGE_TOKEN * positions.count(i))
        return "".join(parts) + ((self.tokenizer.eos_token or "") if eos else "")

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
        truncated = False
        if kind == "pairs":
            ids, labels = self._plain(self.plain_text(sample.get("txt") or ""))
        elif kind == "interleaved":
            texts, positions = list(meta.get("texts") or []), list(meta.get("image_positions") or [])
            if len(positions) != len(images):
                raise SkipSample("image_count_mismatch", f"sample {key}: {len(positions)} image_positions, {len(images)} images")
            order = sorted(range(len(positions)), key=positions.__getitem__)  # placeholders fill in text order
            images, positions = [images[k] for k in order], [positions[k] for k in order]
            ids, labels = self._plain(self.interleaved_text(texts, positions))
            if self._expanded_length(ids) > self.max_length:
                ids, labels, images = self._keep_start(key, texts, positions, images)
                truncated = True
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
        return Rendered(ids, labels, images, key=key, kind=kind, truncated=truncated)

    def _expanded_length(self, ids: list[int]) -> int:
        return len(ids) + ids.count(self.image_token_id) * (self.image_seq_length - 1)

    def _keep_start(
        self, key: str, texts: list[str | None], positions: list[int], images: list[bytes]
    ) -> tuple[list[int], list[int], list[bytes]]:
        """The longest prefix of whole sentences (with their images) within ``max_length``, no EOS."""
        pieces = self.tokenizer([t or "" for t in texts], add_special_tokens=False)["input_ids"]
        total, n = (1 if self.tokenizer.bos_token else 0), 0
        for i, piece in enumerate(pieces):  # an estimate from per-sentence lengths, checked below
            total += len(piece) + positions.count(i) * self.image_seq_length
            if total > self.max_length:
                break
            n = i + 1
        while n > 0:
            kept = [p for p in positions if p < n]
            ids, labels = self._plain(self.interleaved_text(texts[:n], kept, eos=False))
            if self._expanded_length(ids) <= self.max_length:
                if kept and any(label != IGNORE_INDEX for label in labels):
                    return ids, labels, images[: len(kept)]
                break
            n -= 1
        raise SkipSample("too_long", f"sample {key}: no prefix of whole sentences with an image fits max_length {self.max_length}")

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
        if not self.assistant_only_loss:
            mask = [1] * len(ids)
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
