"""Which parameters each training step updates (the published recipe: SigLIP is always frozen).

- step 0: the projector only (aligning image features to a frozen LLM);
- steps 1 and 2: the projector and the whole LLM (embeddings, decoder, LM head).
"""

from __future__ import annotations

import logging

from transformers import LlavaForConditionalGeneration

logger = logging.getLogger(__name__)

STEPS = (0, 1, 2)


def trainable_prefixes(step: int) -> tuple[str, ...]:
    """Parameter-name prefixes that train in ``step``."""
    if step not in STEPS:
        raise ValueError(f"unknown training step {step}; LLM-jp-3 VILA has steps {STEPS}")
    if step == 0:
        return ("model.multi_modal_projector.",)
    return ("model.multi_modal_projector.", "model.language_model.", "lm_head.")


def count_parameters(model: LlavaForConditionalGeneration) -> dict[str, int]:
    """``{"trainable": n, "frozen": n}``."""
    counts = {"trainable": 0, "frozen": 0}
    for param in model.parameters():
        counts["trainable" if param.requires_grad else "frozen"] += param.numel()
    return counts


def set_trainable(model: LlavaForConditionalGeneration, step: int) -> dict[str, int]:
    """Freeze everything, then unfreeze the step's parameters; returns trainable / frozen counts."""
    prefixes = trainable_prefixes(step)
    for name, param in model.named_parameters():
        param.requires_grad_(name.startswith(prefixes))
    counts = count_parameters(model)
    logger.info("step %d: %d trainable, %d frozen parameters", step, counts["trainable"], counts["frozen"])
    return counts
