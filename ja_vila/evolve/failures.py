"""One generation's model: fine-tune the base model on D (step 2, ``training/step2.py``),
answer the validation split (``eval.runner.VLMRunner``), score with VQA accuracy and keep the
wrong answers (image, question, gold, prediction) the proposer learns from.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dataset_builders.errors import UserInputError
from ja_vila.evolve.config import EvalSettings, TrainSettings

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Failure:
    """A wrong validation answer; ``id`` is the question id lineage refers to."""

    id: str
    question: str
    gold: str
    prediction: str
    score: float
    answers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_generation(base_model: str, datasets: list[str], out_dir: Path, settings: TrainSettings,
                     seed: int) -> dict[str, Any]:
    """Fine-tune ``base_model`` on ``datasets`` into ``out_dir`` (a plain Llava folder)."""
    from training import step2

    config = Path(settings.config)
    if not config.is_absolute() and not config.is_file():
        config = REPO / config
    argv = ["--config", str(config), "--model_name_or_path", base_model, "--dataset_paths", *datasets,
            "--output_dir", str(out_dir), "--seed", str(seed), "--report_to", "none"]
    if settings.max_steps is not None:
        argv += ["--max_steps", str(settings.max_steps)]
    argv += list(settings.extra_args)
    summary = step2.cli(argv)
    if not summary["finished"]:
        raise RuntimeError(f"training into {out_dir} stopped at step {summary['global_step']}")
    return {"global_step": summary["global_step"], "losses": summary["losses"]}


def majority_answer(answers: list[str]) -> str:
    return Counter(answers).most_common(1)[0][0] if answers else ""


def evaluate_failures(model_dir: Path, settings: EvalSettings) -> tuple[float, list[Failure], int]:
    """(mean VQA accuracy, wrong answers, items) of ``model_dir`` on the validation split."""
    from eval.metrics.vqa_accuracy import vqa_accuracy
    from eval.runner import GenerationSettings, VLMRunner
    from eval.tasks import get_task

    task = get_task(settings.task)
    if "vqa_accuracy" not in task.metrics:
        raise UserInputError(f"eval.task {settings.task!r} is not scored by VQA accuracy (use textvqa or textvqa_no_ocr)")
    items = task.load(settings.data, limit=settings.limit)
    runner = VLMRunner(model_dir, GenerationSettings(batch_size=settings.batch_size, device=settings.device,
                                                     max_new_tokens=settings.max_new_tokens))
    predictions = runner.generate(items, settings.max_new_tokens or task.max_new_tokens, label=f"eval {model_dir.name}")
    failures, total = [], 0.0
    for item, pred in zip(items, predictions, strict=True):
        score = vqa_accuracy(pred, item.answers)
        total += score
        if score < 1.0:
            failures.append(Failure(item.id, item.question, majority_answer(item.answers), pred, score, item.answers))
    del runner
    return total / len(items), failures, len(items)


def write_failures(path: Path, failures: list[Failure]) -> None:
    from dataset_builders.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in failures))
