r"""LLM-jp-3 VILA, step 1 — interleaved pre-training: image-text pairs and interleaved documents.

Recipe (published: lr 5e-5, global batch 1024, 1 epoch, cosine, warmup 3%, ZeRO-3):

- model: step 0's output folder (``--model_name_or_path out/step0``);
- trains: the projector and the whole LLM (embeddings, decoder, LM head) — SigLIP is frozen;
- data: a weighted mixture (``--dataset_paths NAME=PATH@WEIGHT …``) of pairs (``<image>{caption}\n``)
  and interleaved documents (sentences in order, each ``<image>`` after its sentence, several
  images per sequence; a document longer than ``max_length`` keeps its longest prefix of whole
  sentences with their images). Loss on all text, never on image tokens;
- collator: :class:`training.data.VilaCollator`;
- trainer: :class:`training.train.VilaTrainer`.

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero3.yaml training/step1.py \
        --config configs/train/step1.yaml \
        --model_name_or_path out/step0 \
        --dataset_paths data/ja-pairs data/ja-interleaved data/mmc4-core \
        --output_dir out/step1

Tiny, on a CPU, in seconds (models and data from ``ja-vila demo``)::

    python training/step1.py --config configs/train/tiny_step1.yaml \
        --model_name_or_path demo-out/models/step0 \
        --dataset_paths demo-out/datasets/ja-pairs demo-out/datasets/ja-interleaved --output_dir out/tiny-step1

Two CPU processes (gloo; ``accelerate launch --cpu --num_processes 2`` would run ONE process)::

    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 training/step1.py \
        --config configs/train/tiny_step1.yaml ...

Arguments: ``VilaArguments`` (model, data) and TRL's ``SFTConfig``, from ``--config file.yaml`` and the
command line. ``SFTConfig`` fields the steps do not honour are refused by name (``training/config.py``).
"""

from __future__ import annotations

import logging

from transformers import set_seed
from trl import SFTConfig

from training.freeze import count_parameters
from training.train import (
    VilaArguments,
    VilaTrainer,
    build_collator,
    build_stream,
    check_args,
    load_model,
    parse_args,
)


def main(script_args: VilaArguments, training_args: SFTConfig) -> dict:
    """Train step 1; returns the step summary (also in ``output_dir/vila_step_summary.json``)."""
    training_args = check_args(training_args)
    set_seed(training_args.seed)

    # Model: step 0's folder
    model, processor = load_model(script_args, training_args.seed)

    # Frozen: the vision tower; the projector and the whole LLM train
    model.requires_grad_(False)
    model.model.multi_modal_projector.requires_grad_(True)
    model.model.language_model.requires_grad_(True)
    model.lm_head.requires_grad_(True)

    # Data: pairs + interleaved documents, mixed by weight; each image counts image_seq_length tokens
    stream = build_stream(model, processor, script_args, training_args)

    # Collator: pads (or packs), decodes the micro-batch's images
    collator = build_collator(model, processor, training_args.pad_to_multiple_of, training_args.padding_free)

    trainer = VilaTrainer(
        model=model,
        args=training_args,
        train_dataset=stream,
        data_collator=collator,
        processing_class=processor,
        stop_after_steps=script_args.stop_after_steps,
    )
    result = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    if trainer.state.global_step >= training_args.max_steps:
        trainer.save_model(training_args.output_dir)  # a plain Llava folder: step 2's input
    return trainer.summarise(1, count_parameters(model), result, script_args)


def cli(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` as the command line (``None``: ``sys.argv``) and run :func:`main`."""
    return main(*parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli()
