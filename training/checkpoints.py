"""Which checkpoint a resume starts from: the newest *complete* one.

``Trainer`` writes ``checkpoint-N/`` in place — weights, optimizer, scheduler, RNG, then
``trainer_state.json`` last — so a job killed during a save leaves a folder without (or with a cut)
``trainer_state.json``. transformers' ``get_last_checkpoint`` picks the highest number regardless,
and the resume crashes on the missing file; here such a folder is skipped, with a warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from dataset_builders.errors import UserInputError

logger = logging.getLogger(__name__)

TRAINER_STATE = "trainer_state.json"
_CHECKPOINT = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot be resumed from (``None``: it is complete)."""
    state = Path(folder) / TRAINER_STATE
    if not state.is_file():
        return f"no {TRAINER_STATE}"
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"unreadable {TRAINER_STATE} ({e})"
    if not isinstance(data, dict) or "global_step" not in data:
        return f"{TRAINER_STATE} without global_step"
    return None


def last_complete_checkpoint(output_dir: str | os.PathLike) -> str | None:
    """The newest complete ``checkpoint-N`` in ``output_dir`` (``None`` when there is none); newer
    incomplete ones are logged and skipped (the Trainer overwrites them when it gets there again)."""
    root = Path(output_dir)
    if not root.is_dir():
        return None
    found = sorted(((int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _CHECKPOINT.match(p.name))),
                   reverse=True)
    skipped = []
    for _, folder in found:
        problem = checkpoint_problem(folder)
        if problem is None:
            if skipped:
                logger.warning("resuming from %s, the newest complete checkpoint (skipped %s)", folder.name,
                               "; ".join(skipped))
            else:
                logger.info("resuming from %s", folder)
            return str(folder)
        skipped.append(f"{folder.name}: incomplete, {problem} — its save was cut short")
    if skipped:
        logger.warning("no complete checkpoint in %s (%s); starting from scratch", root, "; ".join(skipped))
    return None


def check_resumable(folder: str | os.PathLike) -> None:
    """An explicitly named checkpoint must be complete: a clear error instead of a crash inside Trainer."""
    if not Path(folder).is_dir():
        raise UserInputError(f"--resume_from_checkpoint {folder}: no such checkpoint folder")
    problem = checkpoint_problem(folder)
    if problem is not None:
        raise UserInputError(
            f"--resume_from_checkpoint {folder}: the checkpoint is incomplete ({problem}; its save was cut short). "
            "Pass --resume_from_checkpoint true to resume from the newest complete one."
        )
