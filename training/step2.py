r"""LLM-jp-3 VILA, step 2 — visual instruction tuning on conversations.

Recipe (published: lr 1e-5, global batch 128, 1 epoch, cosine, warmup 3%, ZeRO-3):

- model: step 1's output folder (``--model_name_or_path out/step1``);
- trains: the projector and the whole LLM — SigLIP is frozen;
- data: conversations (``--dataset_paths``, e.g. ja-instruct + LLaVA-Instruct + JA-VG-VQA) in the
  ``llmjp_v3`` chat template; with ``assistant_only_loss: true`` (the recipe, set in the YAML) the
  loss is on the assistant answers and their ``</s>`` only;
- collator: :class:`training.data.VilaCollator`;
- trainer: :class:`training.train.VilaTrainer`.

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero3.yaml training/step2.py \
        --config configs/train/step2.yaml \
        --model_name_or_path out/step1 \
        --dataset_paths data/ja-instruct data/llava-instruct-ja data/ja-vg-vqa \
        --output_dir out/step2

Tiny, on a CPU, in seconds (models and data from ``ja-vila demo``)::

    python training/step2.py --config configs/train/tiny_step2.yaml \
        --model_name_or_path demo-out/models/step1 \
        --dataset_paths demo-out/datasets/ja-instruct --output_dir out/tiny-step2

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
    """Train step 2; returns the step summary (also in ``output_dir/vila_step_summary.json``)."""
    training_args = check_args(training_args)
    set_seed(training_args.seed)

    # Model: step 1's folder
    model, processor = load_model(script_args, training_args.seed)

    # Frozen: the vision tower; the projector and the whole LLM train
    model.requires_grad_(False)
    model.model.multi_modal_projector.requires_grad_(True)
    model.model.language_model.requires_grad_(True)
    model.lm_head.requires_grad_(True)

    # Data: conversations in llmjp_v3; labels on the answers with assistant_only_loss
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
        trainer.save_model(training_args.output_dir)  # the released model's layout
    return trainer.summarise(2, count_parameters(model), result, script_args)


def cli(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` as the command line (``None``: ``sys.argv``) and run :func:`main`."""
    return main(*parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli()
