r"""LLM-jp-3 VILA training, Step 2 — visual instruction tuning: conversations in the `llmjp_v3` format, loss only on the assistant answers; the projector and the LLM train, SigLIP frozen. Starts from step 1's folder. Published recipe: lr 1e-5, global batch 128, ZeRO-3.

Launch (one node, 8 GPUs)::

    accelerate launch --config_file configs/accelerate/zero3.yaml training/step2.py \
        --config configs/train/step2.yaml \
        --model_name_or_path out/step1 \
        --dataset_paths data/ja-instruct data/llava-instruct-ja \
        --output_dir out/step2

Two CPU processes (gloo; note: ``accelerate launch --cpu --num_processes 2`` runs ONE process)::

    ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2 training/step2.py \
        --config configs/train/tiny_step2.yaml ...

Any ``SFTConfig`` / ``TrainingArguments`` field can be given on the command line or in the YAML
(``--max_steps``, ``--packing``, ``--resume_from_checkpoint true`` …); see training/README.md.
"""

from __future__ import annotations

import sys

from training.train import run_step

STEP = 2


def main(argv: list[str] | None = None) -> dict:
    """Run step 2; ``argv`` as on the command line (tests pass a list)."""
    return run_step(STEP, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
