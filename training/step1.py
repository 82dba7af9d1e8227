r"""LLM-jp-3 VILA training, Step 1 — interleaved pre-training: image-text pairs and interleaved documents (several `<image>` in text order); the projector and the whole LLM train, SigLIP frozen. Starts from step 0's folder. Published recipe: lr 5e-5, global batch 1024, ZeRO-3.

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero3.yaml training/step1.py \
        --config configs/train/step1.yaml \
        --model_name_or_path out/step0 \
        --dataset_paths data/ja-pairs data/ja-interleaved data/mmc4-core \
        --output_dir out/step1

Two CPU processes (gloo; note: ``accelerate launch --cpu --num_processes 2`` runs ONE process)::

    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 training/step1.py \
        --config configs/train/tiny_step1.yaml ...

Any ``SFTConfig`` / ``TrainingArguments`` field can be given on the command line or in the YAML
(``--max_steps``, ``--packing``, ``--resume_from_checkpoint true`` …); see training/README.md.
"""

from __future__ import annotations

import sys

from training.train import run_step

STEP = 1


def main(argv: list[str] | None = None) -> dict:
    """Run step 1; ``argv`` as on the command line (tests pass a list)."""
    return run_step(STEP, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
