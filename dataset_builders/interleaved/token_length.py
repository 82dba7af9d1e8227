"""How many tokens an interleaved document takes in the LLM: text tokens + 729 per image + template.

The paper keeps a document only if its token count fits the LLM's maximum length (4096 for
LLM-jp-3 VILA). We count with the real tokenizer on the document rendered as the model sees it:
``bos`` + the sentences joined by ``sentence_separator``, each image's placeholder (``<image>``)
right after its sentence, + ``eos``. The placeholder is one token in the tokenizer (added if the
tokenizer lacks it, as the VILA conversion does; :func:`load_tokenizer`) and stands for ``tokens_per_image`` (27×27 = 729
SigLIP-384 patches) once the vision features fill it, so the count is
``len(ids) + n_images · (tokens_per_image − 1)``: separators, bos/eos and the tokenizer's merges
across sentence boundaries are all counted as they will be in training.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass

from transformers import AutoTokenizer, PreTrainedTokenizerBase

IMAGE_PLACEHOLDER = "<image>"
#: 27×27 patches of SigLIP-so400m-patch14-384, each one LLM token after the projector.
TOKENS_PER_IMAGE = 729


@dataclass(frozen=True)
class DocumentTemplate:
    """How a document is laid out for the LLM (only what changes its token count).

    Attributes:
        image_placeholder: the tokenizer's image token, one per image.
        sentence_separator: put between sentences (and around a placeholder).
        add_bos / add_eos: whether the sample starts with bos / ends with eos.
    """

    image_placeholder: str = IMAGE_PLACEHOLDER
    sentence_separator: str = "\n"
    add_bos: bool = True
    add_eos: bool = True

    def render(self, texts: Sequence[str], image_positions: Sequence[int]) -> str:
        """The document's text with a placeholder after each image's sentence (bos/eos not included)."""
        per_sentence = [0] * len(texts)
        for p in image_positions:
            per_sentence[p] += 1
        parts: list[str] = []
        for sentence, n in zip(texts, per_sentence, strict=True):
            parts.append(sentence)
            parts.extend([self.image_placeholder] * n)
        return self.sentence_separator.join(parts)


@functools.lru_cache(maxsize=4)
def _load(name_or_path: str) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(name_or_path)


def load_tokenizer(
    tokenizer: PreTrainedTokenizerBase | str | os.PathLike, image_placeholder: str = IMAGE_PLACEHOLDER
) -> PreTrainedTokenizerBase:
    """A tokenizer object from an object, a local path, a Hub id or ``"tiny"`` (the project's own
    offline tokenizer, for tests and the demo); the image placeholder is made a single special token
    if the tokenizer does not have it (the LLM-jp-3 tokenizer does not)."""
    if tokenizer == "tiny":
        from dataset_builders.tiny.tokenizer import build_tokenizer

        tokenizer = build_tokenizer()
    if isinstance(tokenizer, str | os.PathLike):
        try:
            tokenizer = _load(str(tokenizer))
        except OSError as e:
            raise ValueError(
                f"cannot load the tokenizer {str(tokenizer)!r}: pass a local tokenizer folder or a Hub id that is "
                "cached (HF_HUB_OFFLINE=1 needs it downloaded beforehand)"
            ) from e
    if len(tokenizer.encode(image_placeholder, add_special_tokens=False)) != 1:
        tokenizer.add_special_tokens({"additional_special_tokens": [image_placeholder]})
    return tokenizer


def document_token_length(
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    image_positions: Sequence[int],
    template: DocumentTemplate = DocumentTemplate(),  # noqa: B008 - frozen, immutable default
    tokens_per_image: int = TOKENS_PER_IMAGE,
) -> int:
    """Tokens the document occupies in the LLM: its rendered text + ``tokens_per_image`` per image."""
    if any(template.image_placeholder in t for t in texts):
        raise ValueError(
            f"a sentence contains the image placeholder {template.image_placeholder!r} as text; the model "
            "would read it as an image (remove it when cleaning the text)"
        )
    ids = tokenizer.encode(template.render(texts, image_positions), add_special_tokens=False)
    special = int(template.add_bos and tokenizer.bos_token_id is not None) + int(
        template.add_eos and tokenizer.eos_token_id is not None
    )
    return len(ids) + special + len(image_positions) * (tokens_per_image - 1)
