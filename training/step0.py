r"""LLM-jp-3 VILA, step 0 — projector alignment on image-text pairs.

Recipe (published: lr 1e-3, global batch 256, 1 epoch, cosine, warmup 3%, ZeRO-2):

- model: SigLIP-so400m-patch14-384 + llm-jp-3-13b-instruct assembled into a Llava
  (``--vision_model_name_or_path`` + ``--llm_model_name_or_path``), or an existing Llava folder;
- trains: the 2-layer MLP projector only — SigLIP and the LLM are frozen;
- data: image-text pairs (``--dataset_paths``), rendered ``<image>{caption}\n``, loss on the caption;
- collator: :class:`training.data.VilaCollator` (images decoded per micro-batch, a vision pass on every rank);
- trainer: :class:`training.train.VilaTrainer` (``transformers.Trainer`` that resumes at the data position).

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero2.yaml training/step0.py \
        --config configs/train/step0.yaml --output_dir out/step0

Tiny, on a CPU, in seconds (models and data from ``ja-vila demo``)::

    python training/step0.py --config configs/train/tiny_step0.yaml \
        --vision_model_name_or_path demo-out/models/components/vision \
        --llm_model_name_or_path demo-out/models/components/llm \
        --dataset_paths demo-out/datasets/ja-pairs --output_dir out/tiny-step0

Arguments: ``VilaArguments`` (model, data) and TRL's ``SFTConfig``, from ``--config file.yaml`` and the
command line (``--max_steps 100``, ``--resume_from_checkpoint true`` …). ``SFTConfig`` fields the
steps do not honour are refused by name (``training/config.py``).
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
    """Train step 0; returns the step summary (also in ``output_dir/vila_step_summary.json``)."""
    training_args = check_args(training_args)
    set_seed(training_args.seed)

    # Model: SigLIP + LLM assembled into a Llava (or a Llava folder given as --model_name_or_path)
    model, processor = load_model(script_args, training_args.seed, assemble=True)

    # Frozen: everything but the projector
    model.requires_grad_(False)
    model.model.multi_modal_projector.requires_grad_(True)

    # Data: the weighted mixture of --dataset_paths (pairs), rendered "<image>{caption}\n"
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
        trainer.save_model(training_args.output_dir)  # a plain Llava folder: step 1's input
    return trainer.summarise(0, count_parameters(model), result, script_args)


def cli(argv: list[str] | None = None) -> dict:
    """Parse ``argv`` as the command line (``None``: ``sys.argv``) and run :func:`main`."""
    return main(*parse_args(argv))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli()
