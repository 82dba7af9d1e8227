"""A small byte-level BPE tokenizer the project trains itself (no Hub download).

Byte-level, so any text (Japanese, emoji, URLs) encodes without unknown tokens; trained on the
embedded Japanese sample so that Japanese text takes a realistic number of tokens. Deterministic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from dataset_builders.tiny.sample import load_documents

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>", IMAGE_TOKEN]

#: Used when the embedded sample is empty (it never is in an installed package).
_FALLBACK_TEXT = (
    "これは日本語の文章です。画像と文章を組み合わせたデータセットを作ります。"
    "富士山は日本で一番高い山です。東京駅から新幹線に乗りました。猫が窓辺で昼寝をしている。"
)


def sample_texts() -> list[str]:
    """Japanese text of the embedded sample documents (titles and sentences)."""
    texts: list[str] = []

    def collect(value) -> None:  # every string in the record, whatever its field names
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for doc in load_documents():
        collect(doc)
    return [t for t in texts if t.strip()] or [_FALLBACK_TEXT]


@functools.lru_cache(maxsize=4)
def _trained(vocab_size: int, corpus: tuple[str, ...]) -> str:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return tok.to_str()


def build_tokenizer(vocab_size: int = 1024, texts: Iterable[str] | None = None) -> PreTrainedTokenizerFast:
    """Train (cached per process) and wrap the tokenizer; ``<image>`` is a special token."""
    corpus = tuple(texts) if texts is not None else tuple(sample_texts())
    tok = Tokenizer.from_str(_trained(vocab_size, corpus))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )
