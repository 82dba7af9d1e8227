"""TRL's ``loss_type="dft"`` for the plain ``Trainer`` (Dynamic Fine-Tuning, arXiv 2508.05629).

Each label token's negative log-likelihood is weighted by its own (detached) probability. Used as
the Trainer's ``compute_loss_func``, so gradient accumulation and token averaging across devices
work as for the default loss (``loss_type="nll"``, the model's own mean NLL over labelled tokens).
"""

from __future__ import annotations

import torch

from training.data.render import IGNORE_INDEX


def dft_loss(outputs, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None) -> torch.Tensor:
    """Sum over label tokens of ``-p.detach() * log p``, divided by the label-token count."""
    logits = outputs.logits[:, :-1].float()
    target = labels[:, 1:].to(logits.device)
    mask = target != IGNORE_INDEX
    logp = torch.log_softmax(logits, dim=-1).gather(-1, target.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)
    per_token = -(logp * logp.exp().detach()) * mask
    denom = mask.sum() if num_items_in_batch is None else num_items_in_batch
    return per_token.sum() / torch.as_tensor(denom, device=per_token.device).clamp(min=1)
