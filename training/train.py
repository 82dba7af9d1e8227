"""What the three step scripts share: arguments, model loading, the data stream and the Trainer run.

``run_step(step, argv)`` parses ``VilaArguments`` + TRL's ``SFTConfig`` with ``trl.TrlParser``
(``--config configs/train/stepN.yaml`` plus command-line overrides), loads the previous step's
folder (or assembles SigLIP + LLM for step 0), freezes by step, streams the data mixture and trains
with ``transformers.Trainer`` and :class:`~training.data.collator.VilaCollator`. The output folder
is a plain ``LlavaForConditionalGeneration`` + ``LlavaProcessor`` — the next step's input.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoProcessor,
    LlavaForConditionalGeneration,
    Trainer,
    TrainerCallback,
    set_seed,
)
from trl import SFTConfig, TrlParser

from dataset_builders.atomic import atomic_write_json
from dataset_builders.errors import UserInputError, check_local_or_hub
from training.assemble import assemble_vila
from training.checkpoints import check_resumable, last_complete_checkpoint
from training.data import DataSource, Renderer, VilaCollator, VilaStream
from training.freeze import set_trainable

logger = logging.getLogger(__name__)

#: Written beside the weights at the end of a step: losses, data counts, training arguments, lineage.
SUMMARY_FILE = "vila_step_summary.json"


@dataclass
class VilaArguments:
    """Model and data arguments of a VILA training step (the rest is TRL's ``SFTConfig``)."""

    model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "The previous step's output folder (step 1: step 0's; step 2: step 1's)."},
    )
    vision_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Step 0 without --model_name_or_path: the SigLIP checkpoint to assemble from."},
    )
    llm_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Step 0 without --model_name_or_path: the causal LM checkpoint to assemble from."},
    )
    dtype: str = field(default="auto", metadata={"help": "Weights dtype when loading (auto, bfloat16, float32)."})
    dataset_paths: list[str] = field(
        default_factory=list,
        metadata={"help": "Dataset folders / shards / globs / hf:// URLs, optionally NAME=PATH@WEIGHT."},
    )
    dataset_weights: list[float] | None = field(
        default=None, metadata={"help": "Mixture weights, one per dataset path (overrides @WEIGHT)."}
    )
    repeat_data: bool = field(
        default=True, metadata={"help": "Cycle the data until max_steps (False: one pass, then stop)."}
    )
    pack_buffer: int = field(default=8, metadata={"help": "Open rows the packer fills first-fit."})
    stop_after_steps: int | None = field(
        default=None,
        metadata={"help": "Save a checkpoint and stop after this many steps (a time-limited job); resume later."},
    )


class VilaTrainer(Trainer):
    """``Trainer`` whose resume restores Llava weights.

    transformers 5.23 saves Llava checkpoints in the legacy key layout (``language_model.model.*``,
    ``vision_tower.*``) but ``Trainer._load_from_checkpoint`` reads them back with a plain
    ``load_state_dict(strict=False)``: every key misses, only a warning is logged, and the resumed run
    silently continues from the *initial* weights. Loading through ``from_pretrained`` applies the
    key conversion. (DeepSpeed and FSDP resume from their own checkpoint formats and are unaffected.)
    """

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        model = model if model is not None else self.model
        target = self.accelerator.unwrap_model(model)
        loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=target.dtype)
        result = target.load_state_dict(loaded.state_dict(), strict=True)
        del loaded
        logger.info("restored weights from %s (%s)", resume_from_checkpoint, result)


class _StopAfter(TrainerCallback):
    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_save = True
            control.should_training_stop = True
        return control


def parse_args(argv: list[str] | None) -> tuple[VilaArguments, SFTConfig]:
    parser = TrlParser((VilaArguments, SFTConfig))
    vila_args, training_args = parser.parse_args_and_config(args=argv)
    return vila_args, training_args


def load_model(step: int, args: VilaArguments, seed: int):
    """The step's starting model and processor: the previous step's folder, or (step 0) an assembly."""
    for name in ("model_name_or_path", "vision_model_name_or_path", "llm_model_name_or_path"):
        if getattr(args, name):
            check_local_or_hub(getattr(args, name), f"--{name}")
    if args.model_name_or_path:
        dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
        model = LlavaForConditionalGeneration.from_pretrained(args.model_name_or_path, dtype=dtype)
        processor = AutoProcessor.from_pretrained(args.model_name_or_path)
        return model, processor
    if step == 0 and args.vision_model_name_or_path and args.llm_model_name_or_path:
        dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
        return assemble_vila(args.vision_model_name_or_path, args.llm_model_name_or_path, seed=seed, dtype=dtype)
    raise UserInputError(
        f"step {step}: pass --model_name_or_path (the previous step's output folder)"
        + (" or --vision_model_name_or_path and --llm_model_name_or_path" if step == 0 else "")
    )


def assembled_from(step: int, args: VilaArguments) -> dict[str, str] | None:
    """The vision and language checkpoints this model descends from (step 0's assembly), carried
    from the previous step's ``vila_step_summary.json``; None when unknown (e.g. a converted model)."""
    if not args.model_name_or_path:
        return {"vision": args.vision_model_name_or_path, "llm": args.llm_model_name_or_path}
    previous = Path(args.model_name_or_path) / SUMMARY_FILE
    if previous.is_file():
        return json.loads(previous.read_text(encoding="utf-8")).get("assembled_from")
    return None


def data_sources(args: VilaArguments) -> list[DataSource]:
    sources = [DataSource.parse(spec) for spec in args.dataset_paths]
    if not sources:
        raise UserInputError("no training data: pass --dataset_paths (folders, shards or hf:// URLs)")
    if args.dataset_weights is not None:
        if len(args.dataset_weights) != len(sources):
            raise UserInputError(
                f"{len(args.dataset_weights)} dataset_weights for {len(sources)} dataset_paths; give one weight each"
            )
        sources = [DataSource(s.path, w, s.name) for s, w in zip(sources, args.dataset_weights, strict=True)]
    return sources


def build_stream(model, processor, args: VilaArguments, max_length: int, packing: bool, seed: int) -> VilaStream:
    renderer = Renderer(processor.tokenizer, model.config.image_seq_length, max_length)
    return VilaStream(
        data_sources(args), renderer, packing=packing, seed=seed, repeat=args.repeat_data, pack_buffer=args.pack_buffer
    )


def build_collator(model, processor, pad_to_multiple_of: int | None = None) -> VilaCollator:
    tok = processor.tokenizer
    return VilaCollator(
        image_processor=processor.image_processor,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        image_token_id=model.config.image_token_id,
        image_seq_length=model.config.image_seq_length,
        pad_to_multiple_of=pad_to_multiple_of,
    )


def _prepare_training_args(step: int, training_args: SFTConfig) -> SFTConfig:
    if training_args.max_length is None:
        raise UserInputError("set max_length explicitly (4096 in the published recipe); rows are never truncated")
    if training_args.max_steps is None or training_args.max_steps <= 0:
        raise UserInputError("the data is a stream: set max_steps (1 epoch = samples / global batch size)")
    training_args.remove_unused_columns = False
    training_args.accelerator_config.dispatch_batches = False  # every rank reads the stream, takes its slice
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = False  # the vision tower runs on every micro-batch
    if training_args.dataloader_num_workers > 1:
        raise UserInputError("dataloader_num_workers must be 0 or 1 (the data is one ordered stream)")
    return training_args


def run_step(step: int, argv: list[str] | None = None) -> dict[str, Any]:
    """Run training step ``step`` (0, 1 or 2) with command-line style ``argv``; returns a summary."""
    vila_args, training_args = parse_args(argv)
    training_args = _prepare_training_args(step, training_args)
    resume = training_args.resume_from_checkpoint
    if resume in ("true", "True", "last"):
        resume = last_complete_checkpoint(training_args.output_dir)
        if resume is None:
            logger.info("no checkpoint in %s; starting from scratch", training_args.output_dir)
    elif resume:
        check_resumable(resume)
    set_seed(training_args.seed)
    model, processor = load_model(step, vila_args, training_args.seed)
    counts = set_trainable(model, step)
    if training_args.gradient_checkpointing:
        model.config.use_cache = False
    stream = build_stream(model, processor, vila_args, training_args.max_length, training_args.packing, training_args.seed)
    callbacks = [_StopAfter(vila_args.stop_after_steps)] if vila_args.stop_after_steps else []
    trainer = VilaTrainer(
        model=model,
        args=training_args,
        train_dataset=stream,
        data_collator=build_collator(model, processor, training_args.pad_to_multiple_of),
        processing_class=processor,
        callbacks=callbacks,
    )
    result = trainer.train(resume_from_checkpoint=resume)
    finished = trainer.state.global_step >= training_args.max_steps
    if finished:
        trainer.save_model(training_args.output_dir)
    summary = {
        "step": step,
        "global_step": trainer.state.global_step,
        "finished": finished,
        "world_size": training_args.world_size,
        "losses": [h["loss"] for h in trainer.state.log_history if "loss" in h],
        "train_runtime": result.metrics.get("train_runtime"),
        "parameters": counts,
        "data": dict(sorted(stream.stats.items())),
        "output_dir": str(training_args.output_dir),
        # what the model card reports: the run's own settings and what step 0 assembled from
        "training_args": json.loads(training_args.to_json_string()),
        "model_args": asdict(vila_args),
        "assembled_from": assembled_from(step, vila_args),
    }
    if trainer.is_world_process_zero():
        atomic_write_json(Path(training_args.output_dir) / SUMMARY_FILE, summary)
    return summary
