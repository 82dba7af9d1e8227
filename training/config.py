"""Which TRL ``SFTConfig`` fields the VILA steps honour, and a check that refuses the others.

The steps parse TRL's ``SFTConfig`` (so a TRL recipe's YAML reads as usual) but train with
``transformers.Trainer`` on our own data stream and collator (TRL 1.16's ``SFTTrainer`` takes only
``datasets`` datasets, refuses packing and padding-free for vision data and truncates through image
tokens — DESIGN §4). Every ``TrainingArguments`` field works as in any ``Trainer`` run; of the fields
``SFTConfig`` adds, each is listed below as honoured (and how) or refused. A refused field given a
non-default value stops the run before anything loads, naming the field — never silently ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transformers import TrainingArguments
from trl import SFTConfig

from dataset_builders.errors import UserInputError

#: field -> how it is honoured.
HONOURED: dict[str, str] = {
    "max_length": "longest row; longer samples are truncated or dropped (see truncation_mode)",
    "truncation_mode": "only 'keep_start': an interleaved document keeps its longest prefix of whole sentences "
    "(with their images) that fits; a pair or conversation longer than max_length is dropped and counted",
    "packing": "whole samples packed into rows of max_length (training/data/packing.py)",
    "packing_strategy": "only 'bfd': a streaming best fit of whole samples (never split)",
    "padding_free": "the micro-batch's rows are concatenated into one row, position_ids restarting per sample",
    "pad_to_multiple_of": "the collator pads the row length up to a multiple",
    "assistant_only_loss": "conversations carry labels on the assistant answers and their </s> only",
    "loss_type": "'nll' (the model's own loss) or 'dft' (per-token NLL weighted by the detached probability)",
    "activation_offloading": "TRL's activation offloading context around each training step (needs a GPU)",
}

#: field -> (default value, why it is refused).
REFUSED: dict[str, tuple[Any, str]] = {
    "model_init_kwargs": (None, "the step loads the previous step's folder itself; use --dtype"),
    "trust_remote_code": (False, "the models are plain transformers Llava classes; no remote code runs"),
    "router_aux_loss_coef": (None, "LLM-jp-3 is not a Mixture-of-Experts model"),
    "chat_template_path": (None, "conversations render with the llmjp_v3 template (training/chat_template.py)"),
    "dataset_text_field": ("text", "samples are read by schema from WebDataset shards (--dataset_paths)"),
    "dataset_kwargs": (None, "there is no datasets preprocessing step to configure"),
    "dataset_num_proc": (None, "rendering streams in the dataloader (dataloader_num_workers 0 or 1)"),
    "eos_token": (None, "the tokenizer's </s> ends documents and answers (the llmjp_v3 format)"),
    "shuffle_dataset": (False, "the order is the seeded mixture; set --seed and the source weights"),
    "eval_packing": (None, "the steps take no evaluation dataset (evaluate with `ja-vila eval`)"),
    "completion_only_loss": (None, "there are no prompt-completion samples; images never carry labels, "
                             "and assistant_only_loss sets the loss of conversations"),
    "pad_token": (None, "deprecated in TRL; the tokenizer's pad token is used"),
}

ALLOWED_VALUES: dict[str, tuple[Any, ...]] = {
    "truncation_mode": ("keep_start",),
    "packing_strategy": ("bfd",),
    "loss_type": ("nll", "dft"),
}


def sft_only_fields() -> set[str]:
    """The fields ``SFTConfig`` adds to ``TrainingArguments`` (the ones it re-defaults — learning_rate,
    logging_steps, gradient_checkpointing, bf16 — are ``Trainer`` fields and work as usual)."""
    base = {f.name for f in dataclasses.fields(TrainingArguments)}
    return {f.name for f in dataclasses.fields(SFTConfig)} - base


def check_sft_config(args: SFTConfig, has_accelerator: bool) -> None:
    """Raise ``UserInputError`` naming the first field that would be ignored or cannot be honoured."""
    for name, (default, why) in REFUSED.items():
        value = getattr(args, name)
        if value != default:
            raise UserInputError(f"--{name} {value!r} is not supported by the VILA steps ({why}); remove it")
    for name, allowed in ALLOWED_VALUES.items():
        value = getattr(args, name)
        if value not in allowed:
            raise UserInputError(f"--{name} {value!r} is not supported by the VILA steps (use {' or '.join(allowed)}: "
                             f"{HONOURED[name]})")
    if args.activation_offloading and not has_accelerator:
        raise UserInputError("--activation_offloading true needs a GPU (it moves activations from the GPU to the CPU); "
                         "remove it on a CPU run")
    if args.max_length is None:
        raise UserInputError("set --max_length (4096 in the published recipe): rows are sized by it")
