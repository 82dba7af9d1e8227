"""The three training steps end to end on tiny data and a tiny model, offline, in seconds.

``run_demo_training(datasets, out_dir)`` assembles a tiny LLM-jp-3 VILA from a tiny SigLIP and a
tiny Llama (saved to ``out_dir/components``), then runs step 0 → 1 → 2 with the tiny CPU configs,
each step starting from the previous step's folder (``out_dir/step0|step1|step2``). Step 1 trains on
pairs and interleaved documents (the tiny model has 4 tokens per image, ``tiny_step1.yaml`` a
``max_length`` that holds the demo's documents whole); each step logs its summary on the console.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import LlamaForCausalLM, SiglipVisionModel

from dataset_builders.tiny.models import TinyLlavaSpec, llava_config, tiny_llava
from training import step0, step1, step2

logger = logging.getLogger(__name__)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"


def save_tiny_components(out_dir: str | Path, seed: int = 0, spec: TinyLlavaSpec | None = None) -> tuple[Path, Path]:
    """A tiny SigLIP vision checkpoint and a tiny Llama causal LM (with tokenizer) — the inputs of
    :func:`training.assemble.assemble_vila`; returns ``(vision_dir, llm_dir)``."""
    out_dir = Path(out_dir)
    spec = spec or TinyLlavaSpec()
    _, processor = tiny_llava(seed=seed, spec=spec)
    config = llava_config(processor.tokenizer, spec)
    torch.manual_seed(seed)
    vision = SiglipVisionModel(config.vision_config)
    llm = LlamaForCausalLM(config.text_config)
    vision.save_pretrained(out_dir / "vision")
    processor.image_processor.save_pretrained(out_dir / "vision")
    llm.save_pretrained(out_dir / "llm")
    processor.tokenizer.save_pretrained(out_dir / "llm")
    return out_dir / "vision", out_dir / "llm"


def _sources(datasets: dict[str, Path], names: tuple[str, ...]) -> list[str]:
    paths = [str(datasets[n]) for n in names if n in datasets]
    if not paths:
        raise ValueError(f"run_demo_training needs at least one of {names} in datasets (got {sorted(datasets)})")
    return paths


def run_demo_training(datasets: dict[str, Path], out_dir: Path, seed: int = 0, max_steps: int = 12) -> dict:
    """Run steps 0 → 1 → 2 on ``datasets`` (keys ``pairs``, ``interleaved``, ``instruct``: dataset
    folders) into ``out_dir/step0|step1|step2``; returns ``{"step0": {"losses": [...], "data": {...}}, ...}``
    (``data["sources"][name]["samples"]``: samples of that source trained)."""
    out_dir = Path(out_dir)
    vision, llm = save_tiny_components(out_dir / "components", seed=seed)
    common = ["--seed", str(seed), "--max_steps", str(max_steps), "--report_to", "none"]
    runs = {
        "step0": (step0, ["--vision_model_name_or_path", str(vision), "--llm_model_name_or_path", str(llm)], ("pairs",)),
        "step1": (step1, ["--model_name_or_path", str(out_dir / "step0")], ("pairs", "interleaved")),
        "step2": (step2, ["--model_name_or_path", str(out_dir / "step1")], ("instruct",)),
    }
    results = {}
    for name, (module, model_args, kinds) in runs.items():
        argv = [
            "--config", str(CONFIGS / f"tiny_{name}.yaml"), *model_args,
            "--dataset_paths", *_sources(datasets, kinds), "--output_dir", str(out_dir / name), *common,
        ]
        summary = module.cli(argv)
        results[name] = {
            "losses": summary["losses"],
            "output_dir": summary["output_dir"],
            "trainable_parameters": summary["parameters"]["trainable"],
            "data": summary["data"],
        }
    return results
