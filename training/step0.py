r"""LLM-jp-3 VILA training, Step 0 — projector alignment: image-caption pairs in the plain format `<image>{caption}\n`; only the 2-layer GELU projector trains (SigLIP and the LLM frozen). Published recipe: lr 1e-3, global batch 256, ZeRO-2.

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero2.yaml training/step0.py \
        --config configs/train/step0.yaml \
        --vision_model_name_or_path google/siglip-so400m-patch14-384 --llm_model_name_or_path llm-jp/llm-jp-3-13b-instruct \
        --dataset_paths data/ja-pairs data/llava-pretrain-ja \
        --output_dir out/step0

Two CPU processes (gloo; note: ``accelerate launch --cpu --num_processes 2`` runs ONE process)::

    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 training/step0.py \
        --config configs/train/tiny_step0.yaml ...

Any ``SFTConfig`` / ``TrainingArguments`` field can be given on the command line or in the YAML
(``--max_steps``, ``--packing``, ``--resume_from_checkpoint true`` …); see training/README.md.
"""

from __future__ import annotations

import sys

from training.train import run_step

STEP = 0


def main(argv: list[str] | None = None) -> dict:
    """Run step 0; ``argv`` as on the command line (tests pass a list)."""
    return run_step(STEP, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
