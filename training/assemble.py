"""Assemble LLM-jp-3 VILA as a plain-transformers ``LlavaForConditionalGeneration``.

SigLIP vision tower + 2-layer GELU MLP projector + a causal LM (llm-jp-3-13b-instruct in the paper),
expressed with stock classes (DESIGN §4): ``vision_feature_select_strategy="full"`` (SigLIP has no
CLS token), ``vision_feature_layer=-1``, one ``<image>`` placeholder per patch (27×27 = 729 for
384 px / patch 14). The saved folder loads with ``AutoModelForImageTextToText`` /
``AutoProcessor`` without ``trust_remote_code`` and runs in ``pipeline("image-text-to-text")``.

    model, processor = assemble_vila("google/siglip-so400m-patch14-384", "llm-jp/llm-jp-3-13b-instruct")
    save_vila(model, processor, "out/step-init")
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PretrainedConfig,
    PreTrainedTokenizerBase,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
)

from training.chat_template import LLMJP_V3_CHAT_TEMPLATE

logger = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"


def add_image_token(tokenizer: PreTrainedTokenizerBase) -> int:
    """Make sure ``<image>`` is one special token of ``tokenizer``; returns its id."""
    if IMAGE_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]}, replace_extra_special_tokens=False)
    return tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)


def vila_config(
    vision_config: SiglipVisionConfig,
    text_config: PretrainedConfig,
    image_token_id: int,
    vision_feature_layer: int = -1,
    vision_feature_select_strategy: str = "full",
) -> LlavaConfig:
    """The Llava config of LLM-jp-3 VILA for the given vision and text configs."""
    n_image_tokens = (vision_config.image_size // vision_config.patch_size) ** 2
    if vision_feature_select_strategy == "default":
        n_image_tokens -= 1
    return LlavaConfig(
        vision_config=vision_config,
        text_config=text_config,
        image_token_id=image_token_id,
        image_seq_length=n_image_tokens,
        projector_hidden_act="gelu",
        vision_feature_select_strategy=vision_feature_select_strategy,
        vision_feature_layer=vision_feature_layer,
        multimodal_projector_bias=True,
        tie_word_embeddings=getattr(text_config, "tie_word_embeddings", False),
    )


def build_processor(
    image_processor: SiglipImageProcessor, tokenizer: PreTrainedTokenizerBase, config: LlavaConfig
) -> LlavaProcessor:
    """A ``LlavaProcessor`` that expands ``<image>`` to ``image_seq_length`` tokens, with ``llmjp_v3``."""
    add_image_token(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.chat_template = LLMJP_V3_CHAT_TEMPLATE
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=config.vision_config.patch_size,
        vision_feature_select_strategy=config.vision_feature_select_strategy,
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=0,
        chat_template=LLMJP_V3_CHAT_TEMPLATE,
    )


def _load_vision(path: str | os.PathLike, dtype: torch.dtype | str) -> SiglipVisionModel:
    config = AutoConfig.from_pretrained(path)
    if config.model_type not in ("siglip", "siglip_vision_model"):
        raise ValueError(
            f"{path}: expected a SigLIP checkpoint (model_type siglip or siglip_vision_model), got {config.model_type}"
        )
    # A full SigLIP (text + vision) checkpoint keeps the vision weights under `vision_model.*` too
    return SiglipVisionModel.from_pretrained(path, dtype=dtype)


def _image_processor(path: str | os.PathLike, vision_config: SiglipVisionConfig) -> SiglipImageProcessor:
    try:
        return AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError):
        logger.info("%s has no preprocessor_config.json; using SigLIP defaults", path)
        size = vision_config.image_size
        return SiglipImageProcessor(
            size={"height": size, "width": size}, image_mean=[0.5] * 3, image_std=[0.5] * 3
        )


def init_projector(model: LlavaForConditionalGeneration, seed: int = 0) -> None:
    """Fresh projector weights (``nn.Linear`` default init, seeded), as LLaVA/VILA start step 0."""
    generator = torch.Generator().manual_seed(seed)
    for linear in (model.model.multi_modal_projector.linear_1, model.model.multi_modal_projector.linear_2):
        bound = 1 / linear.in_features**0.5
        with torch.no_grad():
            w = torch.empty(linear.weight.shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
            b = torch.empty(linear.bias.shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
            linear.weight.copy_(w.to(linear.weight.dtype))
            linear.bias.copy_(b.to(linear.bias.dtype))


def assemble_vila(
    vision: str | os.PathLike,
    llm: str | os.PathLike,
    seed: int = 0,
    dtype: torch.dtype | str = "auto",
) -> tuple[LlavaForConditionalGeneration, LlavaProcessor]:
    """Build LLM-jp-3 VILA from a SigLIP checkpoint and a causal LM checkpoint (folders or Hub ids).

    Adds ``<image>`` to the LM's tokenizer, resizes its embeddings (mean-initialised new rows), copies
    both towers' weights into a ``LlavaForConditionalGeneration`` and initialises the projector.
    """
    tokenizer = AutoTokenizer.from_pretrained(llm)
    n_before = len(tokenizer)
    image_token_id = add_image_token(tokenizer)
    language_model = AutoModelForCausalLM.from_pretrained(llm, dtype=dtype)
    if len(tokenizer) > language_model.get_input_embeddings().num_embeddings or len(tokenizer) != n_before:
        language_model.resize_token_embeddings(max(len(tokenizer), language_model.config.vocab_size))
    vision_model = _load_vision(vision, dtype=language_model.dtype)

    config = vila_config(vision_model.config, language_model.config, image_token_id)
    model = LlavaForConditionalGeneration(config).to(language_model.dtype)
    state = {f"model.vision_tower.{k}": v for k, v in vision_model.state_dict().items()}
    for key, value in language_model.state_dict().items():
        if key.startswith("model."):
            state["model.language_model." + key[len("model."):]] = value
        elif key.startswith("lm_head."):
            state[key] = value
    missing, unexpected = model.load_state_dict(state, strict=False)
    expected_missing = {f"model.multi_modal_projector.{n}" for n, _ in model.model.multi_modal_projector.named_parameters()}
    if set(missing) - expected_missing or unexpected:
        raise ValueError(
            f"assembling {vision} + {llm}: missing weights {sorted(set(missing) - expected_missing)}, "
            f"unexpected {unexpected}"
        )
    init_projector(model, seed=seed)
    model.generation_config = language_model.generation_config
    model.generation_config.suppress_tokens = [image_token_id]
    processor = build_processor(_image_processor(vision, vision_model.config), tokenizer, config)
    return model.eval(), processor


def save_vila(model: LlavaForConditionalGeneration, processor: LlavaProcessor, path: str | os.PathLike) -> Path:
    """Save model and processor into one folder that the Auto classes load."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


# -- real-size configuration (structure only, no weights) -------------------------------------------

#: the published configs of the two towers, shipped with the package (``training/model_configs/``)
MODEL_CONFIGS = Path(__file__).with_name("model_configs")
SIGLIP_SO400M_384 = "google/siglip-so400m-patch14-384"
LLM_JP_3_13B = "llm-jp/llm-jp-3-13b-instruct"


def shipped_config(hub_id: str) -> dict:
    """The shipped ``config.json`` of ``hub_id`` (keys starting with ``_`` are notes, dropped)."""
    path = MODEL_CONFIGS / (hub_id.replace("/", "--") + ".json")
    if not path.is_file():
        known = sorted(p.stem.replace("--", "/") for p in MODEL_CONFIGS.glob("*.json"))
        raise ValueError(f"no shipped config for {hub_id!r}; known: {', '.join(known)}")
    return {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if not k.startswith("_")}


def real_size_config(vision: str = SIGLIP_SO400M_384, llm: str = LLM_JP_3_13B) -> LlavaConfig:
    """LLM-jp-3 VILA 14B's Llava config (SigLIP-so400m-patch14-384 + llm-jp-3-13b, ``<image>`` added
    as a new last id, the vocabulary grown by one). Build it on ``torch.device("meta")`` to inspect shapes."""
    text = shipped_config(llm)
    text.pop("architectures", None)
    text.pop("model_type", None)
    vocab = text["vocab_size"]
    vision_cfg = shipped_config(vision)
    vision_cfg.pop("model_type", None)
    return vila_config(SiglipVisionConfig(**vision_cfg), LlamaConfig(**{**text, "vocab_size": vocab + 1}), image_token_id=vocab)
