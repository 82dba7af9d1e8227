"""What the three step scripts (``training/step0.py`` …) share: arguments, model loading, the data
stream and collator, and :class:`VilaTrainer`.

Each step script shows its own recipe (what trains, which data, which collator) and calls these.
Arguments are ``VilaArguments`` (model and data) + TRL's ``SFTConfig`` parsed by ``trl.TrlParser``
(``--config stepN.yaml`` plus command-line overrides); :func:`check_args` refuses any ``SFTConfig``
field the steps would not honour (:mod:`training.config`).

:class:`VilaTrainer` is ``transformers.Trainer`` plus: the data stream's position saved in every
checkpoint and restored on resume (no replay of trained batches), Llava weights restored on resume,
``loss_type="dft"``, ``activation_offloading``, ``--stop_after_steps``, and the end-of-step summary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoProcessor, LlavaForConditionalGeneration, Trainer, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from trl import SFTConfig, TrlParser

from dataset_builders.atomic import atomic_write_bytes, atomic_write_json
from dataset_builders.errors import UserInputError, check_local_or_hub
from training.assemble import assemble_vila
from training.checkpoints import check_resumable, last_complete_checkpoint
from training.config import check_sft_config
from training.data import DataSource, Renderer, VilaCollator, VilaStream
from training.data.position import STATE_FILE, StreamSnapshots, load_state
from training.loss import dft_loss
from training.summary import data_summary, log_step_summary

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
    pack_buffer: int = field(default=8, metadata={"help": "Open rows the packer fills best-fit."})
    stop_after_steps: int | None = field(
        default=None,
        metadata={"help": "Save a checkpoint and stop after this many steps (a time-limited job); resume later."},
    )


def make_parser() -> TrlParser:
    return TrlParser((VilaArguments, SFTConfig))


def parse_args(argv: list[str] | None = None) -> tuple[VilaArguments, SFTConfig]:
    """``VilaArguments`` and ``SFTConfig`` from ``argv`` (``--config file.yaml`` plus overrides)."""
    vila_args, training_args = make_parser().parse_args_and_config(args=argv)
    return vila_args, training_args


def check_args(training_args: SFTConfig) -> SFTConfig:
    """Refuse what the steps would not honour; set what the stream needs from the Trainer."""
    check_sft_config(training_args, has_accelerator=training_args.device.type != "cpu")
    if training_args.max_steps is None or training_args.max_steps <= 0:
        raise UserInputError("the data is a stream: set --max_steps (1 epoch = samples / global batch size)")
    if training_args.dataloader_num_workers > 1:
        raise UserInputError("--dataloader_num_workers must be 0 or 1 (the data is one ordered stream)")
    training_args.remove_unused_columns = False  # rows carry image bytes and sample lengths
    training_args.accelerator_config.dispatch_batches = False  # every rank reads the stream, takes its slice
    if training_args.ddp_find_unused_parameters is None:
        training_args.ddp_find_unused_parameters = False  # the vision tower runs on every micro-batch
    return training_args


def load_model(args: VilaArguments, seed: int, assemble: bool = False):
    """The previous step's folder (``--model_name_or_path``), or with ``assemble`` (step 0) SigLIP +
    LLM assembled into a Llava; returns ``(model, processor)``."""
    for name in ("model_name_or_path", "vision_model_name_or_path", "llm_model_name_or_path"):
        if getattr(args, name):
            check_local_or_hub(getattr(args, name), f"--{name}")
    dtype = args.dtype if args.dtype == "auto" else getattr(torch, args.dtype)
    if args.model_name_or_path:
        model = LlavaForConditionalGeneration.from_pretrained(args.model_name_or_path, dtype=dtype)
        return model, AutoProcessor.from_pretrained(args.model_name_or_path)
    if assemble and args.vision_model_name_or_path and args.llm_model_name_or_path:
        return assemble_vila(args.vision_model_name_or_path, args.llm_model_name_or_path, seed=seed, dtype=dtype)
    raise UserInputError(
        "pass --model_name_or_path (the previous step's output folder)"
        + (" or --vision_model_name_or_path and --llm_model_name_or_path" if assemble else "")
    )


def assembled_from(args: VilaArguments) -> dict[str, str] | None:
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


def build_stream(model, processor, args: VilaArguments, training_args: SFTConfig) -> VilaStream:
    """The weighted mixture of ``--dataset_paths``, rendered for this model (image tokens per image,
    ``max_length``, ``assistant_only_loss``), packed with ``--packing``."""
    renderer = Renderer(processor.tokenizer, model.config.image_seq_length, training_args.max_length,
                        assistant_only_loss=training_args.assistant_only_loss)
    return VilaStream(data_sources(args), renderer, packing=training_args.packing, seed=training_args.seed,
                      repeat=args.repeat_data, pack_buffer=args.pack_buffer)


def build_collator(model, processor, pad_to_multiple_of: int | None = None, padding_free: bool = False) -> VilaCollator:
    tok = processor.tokenizer
    return VilaCollator(
        image_processor=processor.image_processor,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        image_token_id=model.config.image_token_id,
        image_seq_length=model.config.image_seq_length,
        pad_to_multiple_of=pad_to_multiple_of,
        padding_free=padding_free,
    )


def resolve_checkpoint(value: str | bool | None, output_dir: str) -> str | None:
    """``--resume_from_checkpoint``: ``true``/``last`` → the newest *complete* ``checkpoint-N`` of
    ``output_dir`` (None when there is none; see :mod:`training.checkpoints`), a path → that folder,
    which must be complete."""
    if value in (None, False, "", "false", "False"):
        return None
    if value in (True, "true", "True", "last"):
        last = last_complete_checkpoint(output_dir)
        if last is None:
            logger.info("no checkpoint in %s; starting from scratch", output_dir)
        return last
    check_resumable(value)
    return str(value)


class _StopAfter(TrainerCallback):
    def __init__(self, steps: int):
        self.steps = steps

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.steps:
            control.should_save = True
            control.should_training_stop = True
        return control


class VilaTrainer(Trainer):
    """``Trainer`` on a :class:`~training.data.VilaStream` that resumes where the data stood.

    - Every checkpoint holds the stream's position (``vila_stream_state.pt``: each source's shard
      and offset, the mixture RNG, the packer's open rows, the counters). ``train(resume_from_checkpoint=…)``
      starts the stream there and turns off the Trainer's batch skipping (``ignore_data_skip``): a
      resume reads no trained sample again, at any scale. A checkpoint without it (older runs)
      falls back to the Trainer's replay, with a warning.
    - transformers 5.23 saves Llava checkpoints in the legacy key layout but
      ``Trainer._load_from_checkpoint`` reads them with ``load_state_dict(strict=False)``: every key
      misses, only a warning is logged, and the run continues from the *initial* weights. Weights
      are restored through ``from_pretrained`` instead (DeepSpeed/FSDP use their own formats).
    - ``loss_type="dft"`` (``training.loss``) and ``activation_offloading`` (TRL's context manager).
    - ``stop_after_steps``: save and stop early (time-limited jobs).
    """

    def __init__(self, *args, stop_after_steps: int | None = None, **kwargs):
        training_args = kwargs.get("args")
        stream = kwargs.get("train_dataset")
        if not isinstance(stream, VilaStream):
            raise TypeError("VilaTrainer trains on a training.data.VilaStream (see training.train.build_stream)")
        if getattr(training_args, "loss_type", "nll") == "dft":
            kwargs["compute_loss_func"] = dft_loss
        if stop_after_steps:
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _StopAfter(stop_after_steps)]
        super().__init__(*args, **kwargs)
        self.stream = stream
        self.stop_after_steps = stop_after_steps
        a = self.args
        every = 0
        if a.save_strategy == "steps":
            every = int(a.save_steps) if a.save_steps >= 1 else math.ceil(a.max_steps * a.save_steps)
        stream.snapshots = StreamSnapshots(
            Path(a.output_dir) / "vila-stream",
            rows_per_step=a.per_device_train_batch_size * a.gradient_accumulation_steps * a.world_size,
            save_at=lambda s: s == a.max_steps or s == stop_after_steps or bool(every and s % every == 0),
            enabled=a.should_save,
        )
        self.offload = contextlib.nullcontext()
        if getattr(a, "activation_offloading", False):
            from trl.models.activation_offloading import get_act_offloading_ctx_manager

            self.offload = get_act_offloading_ctx_manager(model=self.model)
        self.resumed_from: dict[str, Any] | None = None

    # -- resume at the data position -------------------------------------------------------------
    def train(self, resume_from_checkpoint: str | bool | None = None, **kwargs):
        checkpoint = resolve_checkpoint(resume_from_checkpoint, self.args.output_dir)
        if checkpoint is not None:
            state_file = Path(checkpoint) / STATE_FILE
            if state_file.is_file():
                state = load_state(state_file)
                self.stream.load_state_dict(state)
                self.args.ignore_data_skip = True  # the stream starts at the position: nothing to skip
                position = self.stream.describe(state)
                self.resumed_from = {"checkpoint": checkpoint, "step": state["step"], "position": position}
                logger.info("resumed from step %d at %s (no trained batch is read again)", state["step"], position)
            else:
                logger.warning("%s holds no data position (%s): the Trainer replays the data stream up to its step, "
                               "reading and decoding every trained sample again", checkpoint, STATE_FILE)
        return super().train(resume_from_checkpoint=checkpoint, **kwargs)

    def _save_checkpoint(self, model, trial) -> None:
        if self.args.should_save:
            step = self.state.global_step
            snapshot = self.stream.snapshots.path(step)
            folder = Path(self._get_output_dir(trial=trial)) / f"{PREFIX_CHECKPOINT_DIR}-{step}"
            if snapshot.is_file():
                atomic_write_bytes(folder / STATE_FILE, snapshot.read_bytes())
            else:
                logger.warning("checkpoint-%d: no data position was recorded for this step; a resume from it "
                               "replays the data stream", step)
        super()._save_checkpoint(model, trial)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_deepspeed_enabled or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        model = model if model is not None else self.model
        target = self.accelerator.unwrap_model(model)
        loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=target.dtype)
        result = target.load_state_dict(loaded.state_dict(), strict=True)
        del loaded
        logger.info("restored weights from %s (%s)", resume_from_checkpoint, result)

    def training_step(self, *args, **kwargs):
        with self.offload:
            return super().training_step(*args, **kwargs)

    # -- the end of a step ------------------------------------------------------------------------
    def data_stats(self) -> tuple[dict[str, int], bool]:
        """The stream's counters at the last trained step (exact: every process, resumed part included),
        else this process's live counters (which include read-ahead)."""
        for path, exact in ((self.stream.snapshots.path(self.state.global_step), True),
                            (self.stream.snapshots.directory / "step-end.pt", False)):
            if path.is_file():
                return load_state(path)["stats"], exact
        return dict(self.stream.stats), False

    def summarise(self, step: int, parameters: dict[str, int], train_output=None,
                  script_args: VilaArguments | None = None) -> dict[str, Any]:
        """Log the end-of-step summary on the console and write ``vila_step_summary.json`` (first process)."""
        stats, exact = self.data_stats()
        a = self.args
        losses = [h["loss"] for h in self.state.log_history if "loss" in h]
        summary = {
            "step": step,
            "global_step": self.state.global_step,
            "max_steps": a.max_steps,
            "finished": self.state.global_step >= a.max_steps,
            "world_size": a.world_size,
            "losses": losses,
            "loss_first": losses[0] if losses else None,
            "loss_last": losses[-1] if losses else None,
            "train_runtime": train_output.metrics.get("train_runtime") if train_output is not None else None,
            "resumed_from": self.resumed_from,
            "parameters": parameters,
            "data": data_summary(stats, [s.label for s in self.stream.sources], exact),
            "output_dir": str(a.output_dir),
            # what the model card reports: the run's own settings and what step 0 assembled from
            "training_args": json.loads(a.to_json_string()),
            "model_args": asdict(script_args) if script_args is not None else None,
            "assembled_from": assembled_from(script_args) if script_args is not None else None,
        }
        if self.is_world_process_zero():
            atomic_write_json(Path(a.output_dir) / SUMMARY_FILE, summary)
            log_step_summary(summary)
            shutil.rmtree(self.stream.snapshots.directory, ignore_errors=True)
        return summary

