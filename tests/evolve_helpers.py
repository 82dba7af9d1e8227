"""Tiny inputs for the evolve tests: a base Llava, a seed instruct dataset, a TextVQA-style
validation folder (colour squares), and a config pointing every agent at a loopback server."""

from __future__ import annotations

from pathlib import Path

from dataset_builders.llm import LLMConfig
from ja_vila.evolve import EvolveConfig
from ja_vila.evolve.config import (
    BudgetSettings,
    DiversitySettings,
    EvalSettings,
    TrainSettings,
    VerifySettings,
)
from ja_vila.evolve.tiny import write_tiny_inputs

REPO = Path(__file__).resolve().parents[1]


def make_inputs(root: Path) -> dict[str, Path]:
    """What the tiny preset writes for ``tiny`` inputs (:func:`ja_vila.evolve.tiny.write_tiny_inputs`)."""
    return write_tiny_inputs(root)


def llm(url: str, model: str = "scripted") -> LLMConfig:
    return LLMConfig(provider="openai_compatible", base_url=url, model=model, max_retries=1, backoff_base_s=0.01,
                     backoff_max_s=0.05, concurrency=4, timeout_s=10)


def tiny_config(inputs: dict[str, Path], url: str, mode: str = "task", generations: int = 2,
                refiner_url: str | None = None, **kw) -> EvolveConfig:
    return EvolveConfig(
        mode=mode, generations=generations, base_model=str(inputs["base"]), seed_dataset=str(inputs["seed"]),
        max_images=3, tasks_per_generation=2 if mode != "multi_agent" else 2, proposals_multi_agent=4,
        failures_per_prompt=3, qa_pairs_per_image=2, qa_evolve_per_image=2, shard_max_samples=50,
        train=TrainSettings(config=str(REPO / "configs/train/tiny_step2.yaml"), max_steps=2),
        eval=EvalSettings(task="textvqa", data=str(inputs["val"]), batch_size=4, max_new_tokens=4, device="cpu"),
        proposer=llm(url, "proposer"),
        refiner=llm(refiner_url or url, "refiner") if mode == "multi_agent" else None,
        annotator=llm(url, "annotator"),
        diversity=kw.pop("diversity", DiversitySettings(method="rouge_l", threshold=0.6, max_rounds=2)),
        verify=kw.pop("verify", VerifySettings(k=2)),
        budget=kw.pop("budget", BudgetSettings()),
        **kw,
    )
