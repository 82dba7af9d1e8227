"""A paper-scale training plan computed from code: ``ja-vila plan-training``.

    ja-vila plan-training --config configs/train/step1.yaml --gpus 64 --gpu-memory 80

Builds the real architecture (SigLIP-so400m-patch14-384 + llm-jp-3-13b-instruct, from the configs
shipped in ``training/model_configs/``) on the ``meta`` device — no weights, seconds on a CPU — and
derives from it and the step's YAML what a cluster needs:

- parameters, total and trainable in this step (:mod:`training.freeze` decides which train);
- memory per GPU under ZeRO-2, ZeRO-3 and FSDP2 for the recipe's micro-batch and sequence length:
  weights, gradients, optimizer state, activations with and without gradient checkpointing;
- FLOPs per token, tokens per optimizer step, and GPU-hours for the step's data at an assumed MFU;
- whether the recipe's accelerate config (``configs/accelerate/*.yaml``) fits.

Every number is an estimate from stated formulas (see :func:`memory_per_gpu`, :func:`flops_per_token`);
treat it as a plan, then measure on the first real steps.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import yaml
from transformers import LlavaForConditionalGeneration

from dataset_builders.errors import InputNotFound, UserInputError
from training.assemble import real_size_config
from training.freeze import trainable_prefixes

GiB = 1024**3

#: the accelerate config each step of the published recipe launches with
RECIPE_ACCELERATE = {0: "configs/accelerate/zero2.yaml", 1: "configs/accelerate/zero3.yaml", 2: "configs/accelerate/zero3.yaml"}
#: the recipe's global batch per step (LLM-jp-3 VILA paper; DESIGN §4)
RECIPE_GLOBAL_BATCH = {0: 256, 1: 1024, 2: 128}
#: assumed mean tokens of one sample (text + 729 per image) when the config does not pack rows:
#: step 0 a pair (one image, a caption), step 1 pairs mixed with documents of ~3 images, step 2 a conversation
ASSUMED_SAMPLE_TOKENS = {0: 780, 1: 1900, 2: 1000}
STRATEGIES = ("zero2", "zero3", "fsdp2")


@dataclass
class ModelShape:
    """What the formulas need from the architecture, counted on the meta-device model."""

    total: int
    trainable: int
    vision: int
    projector: int
    llm: int  # decoder + embeddings + lm_head
    llm_embedding: int
    layers: int
    hidden: int
    intermediate: int
    vocab: int
    vision_layers: int
    vision_hidden: int
    image_tokens: int
    largest_layer: int  # parameters of the biggest decoder layer (ZeRO-3/FSDP gather one at a time)


@functools.cache
def _meta_model() -> LlavaForConditionalGeneration:
    with torch.device("meta"):
        return LlavaForConditionalGeneration(real_size_config())


def model_shape(step: int) -> ModelShape:
    """Count the real model's parameters on the meta device, and which train in ``step``."""
    model = _meta_model()
    config = model.config
    prefixes = trainable_prefixes(step)
    named = list(model.named_parameters())

    def count(prefix: str | tuple[str, ...]) -> int:
        return sum(p.numel() for n, p in named if n.startswith(prefix))

    layer = model.model.language_model.layers[0]
    text, vision = config.text_config, config.vision_config
    return ModelShape(
        total=sum(p.numel() for _, p in named),
        trainable=count(prefixes),
        vision=count("model.vision_tower."),
        projector=count("model.multi_modal_projector."),
        llm=count(("model.language_model.", "lm_head.")),
        llm_embedding=count("model.language_model.embed_tokens."),
        layers=text.num_hidden_layers,
        hidden=text.hidden_size,
        intermediate=text.intermediate_size,
        vocab=text.vocab_size,
        vision_layers=vision.num_hidden_layers,
        vision_hidden=vision.hidden_size,
        image_tokens=config.image_seq_length,
        largest_layer=sum(p.numel() for p in layer.parameters()),
    )


@dataclass
class Recipe:
    """The parts of a step's YAML the plan uses."""

    step: int
    micro_batch: int
    grad_accum: int
    seq_len: int
    max_steps: int
    packing: bool
    gradient_checkpointing: bool

    @classmethod
    def from_yaml(cls, path: str | Path, step: int | None = None) -> Recipe:
        path = Path(path)
        if not path.is_file():
            raise InputNotFound(f"{path}: no such training config (see configs/train/)")
        cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if step is None:
            found = re.search(r"step(\d)", path.stem)
            if not found:
                raise UserInputError(f"{path}: cannot tell the step from the file name; pass --step 0|1|2")
            step = int(found.group(1))
        return cls(
            step=step,
            micro_batch=int(cfg.get("per_device_train_batch_size", 8)),
            grad_accum=int(cfg.get("gradient_accumulation_steps", 1)),
            seq_len=int(cfg.get("max_length", 4096)),
            max_steps=int(cfg.get("max_steps", 0)),
            packing=bool(cfg.get("packing", False)),
            gradient_checkpointing=bool(cfg.get("gradient_checkpointing", False)),
        )

    def sample_tokens(self) -> int:
        """Mean tokens per row: a full row when packing, else the assumed mean sample length."""
        return self.seq_len if self.packing else min(self.seq_len, ASSUMED_SAMPLE_TOKENS[self.step])


@dataclass
class Memory:
    """Bytes per GPU, by kind; ``activations`` is for the chosen checkpointing setting."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    activations_no_checkpointing: float
    activations_checkpointing: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations


def activation_bytes(shape: ModelShape, micro_batch: int, seq_len: int, checkpointing: bool) -> float:
    """Activation memory of one micro-batch (bf16), for a Llama decoder with fused (flash/SDPA) attention.

    Per token and layer the backward keeps: attention — norm in/out, q, k, v, attention output (6·h);
    SwiGLU MLP — norm in/out (2·h), gate, up, act(gate), act·up (4·i). With checkpointing only each
    layer's input (h) is kept, plus one layer recomputed at a time. The logits are kept in bf16 and
    once more in fp32 for the loss (6·V bytes per token). The frozen vision tower keeps nothing
    (no parameter below it needs a gradient).
    """
    tokens = micro_batch * seq_len
    per_layer_full = (8 * shape.hidden + 4 * shape.intermediate) * 2
    logits = 6 * shape.vocab
    if checkpointing:
        return tokens * (shape.layers * shape.hidden * 2 + per_layer_full + logits)
    return tokens * (shape.layers * per_layer_full + logits)


def memory_per_gpu(shape: ModelShape, recipe: Recipe, gpus: int, strategy: str) -> Memory:
    """Bytes per GPU under ``strategy`` (bf16 mixed precision, AdamW):

    - ``zero2``: bf16 weights replicated (2·P); bf16 gradients (2·T) and fp32 master + Adam m, v
      (12·T) sharded over the GPUs;
    - ``zero3``: weights sharded too (2·P/N), plus two gathered layers in flight;
    - ``fsdp2``: fp32 sharded parameters (4·P/N), fp32 gradients (4·T/N), Adam m, v (8·T/N), plus
      two gathered bf16 layers in flight.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    p, t, n = shape.total, shape.trainable, gpus
    in_flight = 2 * 2 * shape.largest_layer
    if strategy == "zero2":
        weights, grads, optim = 2 * p, 2 * t / n, 12 * t / n
    elif strategy == "zero3":
        weights, grads, optim = 2 * p / n + in_flight, 2 * t / n, 12 * t / n
    else:
        weights, grads, optim = 4 * p / n + in_flight, 4 * t / n, 8 * t / n
    full = activation_bytes(shape, recipe.micro_batch, recipe.seq_len, checkpointing=False)
    ckpt = activation_bytes(shape, recipe.micro_batch, recipe.seq_len, checkpointing=True)
    return Memory(weights, grads, optim, ckpt if recipe.gradient_checkpointing else full, full, ckpt)


def flops_per_token(shape: ModelShape, recipe: Recipe) -> float:
    """Model FLOPs of one trained token (recomputation by checkpointing not counted, as MFU counts).

    LLM: forward 2·(non-embedding parameters) + causal attention 2·L·s·h; the backward costs twice
    the forward when the LLM trains (weight and input gradients) and once when it is frozen but the
    projector below it trains (input gradients only, step 0). Vision tower: forward only, charged per
    image token; projector: 6 × its parameters per image token. The image-token share of a row is
    taken from the step's assumed sample mix (one image per ~780 tokens in step 0, ~3 per 1,900 in step 1).
    """
    llm_matmul = shape.llm - shape.llm_embedding
    forward = 2 * llm_matmul + 2 * shape.layers * recipe.seq_len / (1 if recipe.packing else 2) * shape.hidden
    llm_trains = any(p.startswith("model.language_model") for p in trainable_prefixes(recipe.step))
    llm = forward * (3 if llm_trains else 2)
    images_per_token = {0: 1 / 780, 1: 3 / 1900, 2: 1 / 1000}[recipe.step]
    image_token_share = images_per_token * shape.image_tokens
    vision = 2 * shape.vision + 2 * shape.vision_layers * shape.image_tokens * shape.vision_hidden
    return llm + image_token_share * (vision + 6 * shape.projector)


@dataclass
class Plan:
    step: int
    gpus: int
    gpu_memory_gb: float
    mfu: float
    peak_tflops: float
    parameters: dict
    recipe: dict
    memory_gib: dict = field(default_factory=dict)  # strategy → {weights, gradients, optimizer, activations, total}
    fits: dict = field(default_factory=dict)  # strategy → bool (with the recipe's checkpointing)
    flops_per_token: float = 0.0
    tokens_per_step: int = 0
    global_batch: int = 0
    total_tokens: float = 0.0
    gpu_hours: float = 0.0
    wall_hours: float = 0.0
    accelerate: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def check_accelerate(path: str | Path, strategy_fits: dict[str, bool], gpus: int) -> tuple[dict, list[str]]:
    """Read an accelerate config; say which strategy it selects, whether that fits, and what is off."""
    path = Path(path)
    if not path.is_file():
        return {"config": str(path), "strategy": None}, [f"{path}: accelerate config not found"]
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    kind = cfg.get("distributed_type")
    if kind == "DEEPSPEED":
        strategy = f"zero{cfg.get('deepspeed_config', {}).get('zero_stage')}"
    elif kind == "FSDP":
        strategy = "fsdp2" if cfg.get("fsdp_config", {}).get("fsdp_version") == 2 else "fsdp1"
    else:
        strategy = str(kind).lower()
    warnings = []
    fits = strategy_fits.get(strategy)
    if fits is False:
        better = [s for s, ok in strategy_fits.items() if ok]
        warnings.append(f"{path}: {strategy} does not fit in GPU memory" + (f"; use {' or '.join(better)}" if better else ""))
    if cfg.get("mixed_precision") != "bf16":
        warnings.append(f"{path}: mixed_precision is {cfg.get('mixed_precision')!r}, the recipe trains in bf16")
    processes = int(cfg.get("num_processes", 1))
    if processes != gpus and int(cfg.get("num_machines", 1)) == 1:
        warnings.append(
            f"{path}: num_processes {processes} on one machine; launch with --num_machines {math.ceil(gpus / max(processes, 1))} "
            f"--num_processes {gpus} for {gpus} GPUs"
        )
    return {"config": str(path), "strategy": strategy, "fits": fits}, warnings


def plan_training(
    config: str | Path, gpus: int, gpu_memory_gb: float = 80.0, mfu: float = 0.4, peak_tflops: float = 312.0,
    step: int | None = None, repo_root: str | Path = ".",
) -> Plan:
    """The plan for one step's YAML on ``gpus`` GPUs of ``gpu_memory_gb`` (defaults: A100-80GB bf16 peak, MFU 0.4)."""
    if gpus < 1 or gpu_memory_gb <= 0 or not 0 < mfu <= 1 or peak_tflops <= 0:
        raise UserInputError("need --gpus >= 1, --gpu-memory > 0, 0 < --mfu <= 1 and --peak-tflops > 0")
    recipe = Recipe.from_yaml(config, step)
    shape = model_shape(recipe.step)
    plan = Plan(
        step=recipe.step, gpus=gpus, gpu_memory_gb=gpu_memory_gb, mfu=mfu, peak_tflops=peak_tflops,
        parameters={"total": shape.total, "trainable": shape.trainable, "vision": shape.vision,
                    "projector": shape.projector, "llm": shape.llm},
        recipe=asdict(recipe),
    )
    budget = gpu_memory_gb * 1e9
    for strategy in STRATEGIES:
        mem = memory_per_gpu(shape, recipe, gpus, strategy)
        plan.memory_gib[strategy] = {
            "weights": mem.weights / GiB, "gradients": mem.gradients / GiB, "optimizer": mem.optimizer / GiB,
            "activations": mem.activations / GiB, "activations_no_checkpointing": mem.activations_no_checkpointing / GiB,
            "activations_checkpointing": mem.activations_checkpointing / GiB, "total": mem.total / GiB,
        }
        plan.fits[strategy] = mem.total <= budget
    plan.global_batch = recipe.micro_batch * recipe.grad_accum * gpus
    recipe_batch = RECIPE_GLOBAL_BATCH[recipe.step]
    if plan.global_batch != recipe_batch:
        accum = recipe_batch / (recipe.micro_batch * gpus)
        hint = f"gradient_accumulation_steps {accum:g}" if accum >= 1 and accum == int(accum) else "another micro-batch"
        plan.warnings.append(
            f"global batch {plan.global_batch} (= {recipe.micro_batch} × {recipe.grad_accum} × {gpus} GPUs) differs from "
            f"the recipe's {recipe_batch}: use {hint}"
        )
    plan.tokens_per_step = plan.global_batch * recipe.sample_tokens()
    plan.flops_per_token = flops_per_token(shape, recipe)
    plan.total_tokens = float(plan.tokens_per_step) * recipe.max_steps
    seconds = plan.total_tokens * plan.flops_per_token / (gpus * peak_tflops * 1e12 * mfu)
    plan.gpu_hours = seconds * gpus / 3600
    plan.wall_hours = seconds / 3600
    accel, warnings = check_accelerate(Path(repo_root) / RECIPE_ACCELERATE[recipe.step], plan.fits, gpus)
    plan.accelerate = accel
    plan.warnings += warnings
    return plan


def format_plan(plan: Plan) -> str:
    """The plan as the console table ``ja-vila plan-training`` prints."""
    p, r = plan.parameters, plan.recipe
    lines = [
        f"LLM-jp-3 VILA step {plan.step} on {plan.gpus} × {plan.gpu_memory_gb:g} GB "
        f"(micro-batch {r['micro_batch']}, accumulation {r['grad_accum']}, sequence {r['seq_len']}, "
        f"checkpointing {'on' if r['gradient_checkpointing'] else 'off'}, packing {'on' if r['packing'] else 'off'})",
        f"parameters: {p['total'] / 1e9:.2f}B total (vision {p['vision'] / 1e6:.0f}M, projector {p['projector'] / 1e6:.1f}M, "
        f"LLM {p['llm'] / 1e9:.2f}B); trainable in this step {p['trainable'] / 1e9:.3f}B",
        "",
        f"{'memory / GPU (GiB)':<20}{'weights':>9}{'grads':>8}{'optim':>8}{'act':>8}{'act no-ckpt':>12}{'act ckpt':>9}{'total':>8}  fits",
    ]
    for s, m in plan.memory_gib.items():
        lines.append(
            f"{s:<20}{m['weights']:>9.1f}{m['gradients']:>8.1f}{m['optimizer']:>8.1f}{m['activations']:>8.1f}"
            f"{m['activations_no_checkpointing']:>12.1f}{m['activations_checkpointing']:>9.1f}{m['total']:>8.1f}  "
            f"{'yes' if plan.fits[s] else 'NO'}"
        )
    lines += [
        "",
        f"FLOPs per token: {plan.flops_per_token / 1e9:.1f} GFLOP (model FLOPs, recompute excluded)",
        f"tokens per step: {plan.tokens_per_step:,} (global batch {plan.global_batch}; "
        f"{'full packed rows' if r['packing'] else f'assumed mean {ASSUMED_SAMPLE_TOKENS[plan.step]} tokens per sample'})",
        f"data: {r['max_steps']:,} steps → {plan.total_tokens / 1e9:.1f}B tokens",
        f"compute: {plan.gpu_hours:,.0f} GPU-hours = {plan.wall_hours:,.1f} h on {plan.gpus} GPUs "
        f"(peak {plan.peak_tflops:g} TFLOP/s bf16, MFU {plan.mfu:g} assumed)",
        f"accelerate: {plan.accelerate.get('config')} → {plan.accelerate.get('strategy')}, "
        f"fits: {plan.accelerate.get('fits')}",
    ]
    lines += [f"warning: {w}" for w in plan.warnings]
    return "\n".join(lines)


__all__ = ["Plan", "Recipe", "activation_bytes", "flops_per_token", "format_plan", "memory_per_gpu", "model_shape", "plan_training"]
