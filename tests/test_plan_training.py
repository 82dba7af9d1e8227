"""``ja-vila plan-training``: the real architecture on the meta device, and the plan derived from it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ja_vila.cli import app
from training.plan import ModelShape, Recipe, activation_bytes, memory_per_gpu, model_shape, plan_training

CONFIGS = "configs/train"


def test_parameter_counts_match_the_published_model_sizes():
    shape = model_shape(1)
    # llm-jp/llm-jp-3-13b: "13.7B params" on its Hub page; +1 vocabulary row for <image>
    assert shape.llm == pytest.approx(13.7e9, rel=0.02)
    # mm_projector/model.safetensors of llm-jp-3-vila-14b is 64.2 MB of bf16: 2-layer MLP 1152 → 5120 → 5120
    assert shape.projector == 1152 * 5120 + 5120 + 5120 * 5120 + 5120
    assert shape.projector * 2 == pytest.approx(64.2e6, rel=0.01)
    # SigLIP so400m's vision tower: ~0.43B; the whole model is the "14b" of llm-jp-3-vila-14b
    assert shape.vision == pytest.approx(0.43e9, rel=0.02)
    assert shape.total == pytest.approx(14e9, rel=0.02)
    assert shape.image_tokens == 27 * 27


def test_trainable_parameters_follow_each_step():
    s0, s1, s2 = model_shape(0), model_shape(1), model_shape(2)
    assert s0.trainable == s0.projector  # step 0: projector only
    assert s1.trainable == s2.trainable == s1.projector + s1.llm  # steps 1, 2: projector + LLM, SigLIP frozen
    assert s1.total - s1.trainable == s1.vision


def _shape(**kw) -> ModelShape:
    base = dict(total=1000, trainable=600, vision=100, projector=10, llm=890, llm_embedding=90, layers=2, hidden=4,
                intermediate=8, vocab=10, vision_layers=1, vision_hidden=2, image_tokens=4, largest_layer=50)
    return ModelShape(**{**base, **kw})


def test_activation_bytes_by_hand():
    shape = _shape()
    # per token per layer: (8*4 + 4*8) * 2 bytes = 128; logits 6 * 10 = 60; 3 x 5 = 15 tokens
    assert activation_bytes(shape, 3, 5, checkpointing=False) == 15 * (2 * 128 + 60)
    # checkpointing: each layer's input (2 * 4 * 2 bytes = 16) + one layer recomputed + logits
    assert activation_bytes(shape, 3, 5, checkpointing=True) == 15 * (16 + 128 + 60)


def test_memory_by_strategy_by_hand():
    shape = _shape()
    recipe = Recipe(step=1, micro_batch=1, grad_accum=1, seq_len=5, max_steps=1, packing=False, gradient_checkpointing=True)
    z2 = memory_per_gpu(shape, recipe, 4, "zero2")
    assert (z2.weights, z2.gradients, z2.optimizer) == (2000, 2 * 600 / 4, 12 * 600 / 4)
    z3 = memory_per_gpu(shape, recipe, 4, "zero3")
    assert (z3.weights, z3.gradients, z3.optimizer) == (2000 / 4 + 4 * 50, 300, 1800)
    fsdp = memory_per_gpu(shape, recipe, 4, "fsdp2")
    assert (fsdp.weights, fsdp.gradients, fsdp.optimizer) == (4000 / 4 + 4 * 50, 600, 1200)
    assert z2.activations == z2.activations_checkpointing < z2.activations_no_checkpointing
    with pytest.raises(ValueError, match="unknown strategy"):
        memory_per_gpu(shape, recipe, 4, "zero4")


def test_plan_on_40gb_gpus_flags_zero2_for_step1_as_the_paper_chose_zero3():
    plan = plan_training(f"{CONFIGS}/step1.yaml", gpus=64, gpu_memory_gb=40)
    assert plan.fits["zero3"] and not plan.fits["zero2"]
    assert plan.accelerate["strategy"] == "zero3" and plan.accelerate["fits"] is True
    assert plan.global_batch == 1024
    assert plan.tokens_per_step > 0 and plan.gpu_hours > 0
    # the step-1 total of 14,000 steps: the paper reports ~130 h on 64 A100s; the plan is of that order
    assert 20 < plan.wall_hours < 400


def test_plan_warns_when_the_global_batch_leaves_the_recipe():
    plan = plan_training(f"{CONFIGS}/step1.yaml", gpus=16, gpu_memory_gb=80)
    assert plan.global_batch == 4 * 4 * 16
    assert any("gradient_accumulation_steps 16" in w for w in plan.warnings)


@pytest.mark.parametrize("step", [0, 1, 2])
def test_cli_prints_the_plan_for_every_step(step):
    result = CliRunner().invoke(app, ["plan-training", "--config", f"{CONFIGS}/step{step}.yaml", "--gpus", "64",
                                      "--gpu-memory", "80"])
    assert result.exit_code == 0, result.output
    assert f"step {step} on 64 × 80 GB" in result.output
    assert "14.17B total" in result.output
    for strategy in ("zero2", "zero3", "fsdp2"):
        assert strategy in result.output


def test_cli_missing_config_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["plan-training", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such training config" in result.output
