"""Convert a VILA-format checkpoint (the released llm-jp-3-vila-14b) into a plain-transformers folder.

VILA saves three sub-models beside a ``config.json`` with ``model_type: llava_llama``::

    SRC/llm/           LlamaForCausalLM  (model.*, lm_head.*) + tokenizer
    SRC/vision_tower/  SiglipVisionModel (vision_model.*) + preprocessor_config.json
    SRC/mm_projector/  mlp2x_gelu        (layers.0.*, layers.2.*)

The weights map onto ``LlavaForConditionalGeneration`` (DESIGN §4)::

    llm/model.*                 -> model.language_model.*
    llm/lm_head.*               -> lm_head.*
    vision_tower/vision_model.* -> model.vision_tower.vision_model.*
    mm_projector/layers.0|2.*   -> model.multi_modal_projector.linear_1|2.*

VILA marks images with an out-of-vocabulary index (-200); here ``<image>`` becomes a real token, so
the vocabulary grows by one (embedding row = mean of the others, LM-head row = mean too, and the
token is suppressed in generation). The tensors are written by ``save_pretrained`` of a meta-device
skeleton, so the folder has exactly the key layout and shards this transformers version writes.

    ja-vila convert-vila path/to/llm-jp-3-vila-14b out/llm-jp-3-vila-14b-hf
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoTokenizer, GenerationConfig, LlavaForConditionalGeneration

from dataset_builders.atomic import atomic_write_json
from dataset_builders.errors import UserInputError
from training.assemble import _image_processor, add_image_token, build_processor, vila_config

logger = logging.getLogger(__name__)

SUBFOLDERS = ("llm", "vision_tower", "mm_projector")
_PROJECTOR_KEY = re.compile(r"^(?:.*\.)?layers\.(\d+)\.(weight|bias)$")
_SELECT_FEATURE = {"cls_patch": "full", "patch": "default"}


class VilaFormatError(UserInputError):
    """The source folder is not a VILA checkpoint this converter understands."""


def load_tensors(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint folder (safetensors, sharded or not, or pytorch_model*.bin)."""
    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    tensors: dict[str, torch.Tensor] = {}
    if files:
        for file in files:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is not a dict
                    tensors[key] = f.get_tensor(key)
        return tensors
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if not bins:
        raise VilaFormatError(f"{folder}: no *.safetensors or pytorch_model*.bin weights")
    for file in bins:
        tensors.update(torch.load(file, map_location="cpu", weights_only=True))
    return tensors


def _read_top_config(src: Path) -> dict:
    path = src / "config.json"
    if not path.is_file():
        return {}
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("model_type") not in (None, "llava_llama"):
        raise VilaFormatError(f"{path}: model_type {config.get('model_type')!r}, expected 'llava_llama'")
    return config


def map_projector(tensors: dict[str, torch.Tensor], projector_type: str) -> dict[str, torch.Tensor]:
    if projector_type != "mlp2x_gelu":
        raise VilaFormatError(
            f"mm_projector type {projector_type!r} is not supported; Llava's projector is mlp2x_gelu (Linear, GELU, Linear)"
        )
    out = {}
    names = {0: "linear_1", 2: "linear_2"}
    for key, value in tensors.items():
        m = _PROJECTOR_KEY.match(key)
        if not m or int(m.group(1)) not in names:
            raise VilaFormatError(f"mm_projector: unexpected weight {key} for mlp2x_gelu (layers.0 / layers.2)")
        out[f"model.multi_modal_projector.{names[int(m.group(1))]}.{m.group(2)}"] = value
    if len(out) != 4:
        raise VilaFormatError(f"mm_projector: expected 4 tensors (2 weights, 2 biases), found {sorted(tensors)}")
    return out


def map_llm(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in tensors.items():
        if key.startswith("model."):
            out["model.language_model." + key[len("model."):]] = value
        elif key.startswith("lm_head."):
            out[key] = value
        else:
            raise VilaFormatError(f"llm: unexpected weight {key} (expected model.* or lm_head.*)")
    return out


def map_vision(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in tensors.items():
        if key.startswith("text_model.") or key.startswith("logit_"):
            continue  # a full SigLIP checkpoint: the text tower is not part of VILA
        # transformers 5 flattened SiglipVisionModel: `vision_model.embeddings.*` -> `embeddings.*`
        out["model.vision_tower." + key.removeprefix("vision_model.")] = value
    return out


def _grow_rows(weight: torch.Tensor, rows: int) -> torch.Tensor:
    extra = rows - weight.shape[0]
    if extra <= 0:
        return weight
    mean = weight.float().mean(dim=0, keepdim=True).to(weight.dtype)
    return torch.cat([weight, mean.expand(extra, -1)], dim=0)


def convert_vila(src: str | os.PathLike, dst: str | os.PathLike, max_shard_size: str | int = "5GB") -> Path:
    """Convert the VILA checkpoint at ``src`` into a Llava folder at ``dst``; returns ``dst``.

    ``mm_vision_select_layer`` / ``mm_vision_select_feature`` of the VILA config become Llava's
    ``vision_feature_layer`` / ``vision_feature_select_strategy``."""
    src, dst = Path(src), Path(dst)
    missing = [name for name in SUBFOLDERS if not (src / name).is_dir()]
    if missing:
        raise VilaFormatError(
            f"{src}: not a VILA checkpoint, missing sub-folder(s) {missing} (expected llm/, vision_tower/, mm_projector/)"
        )
    top = _read_top_config(src)
    projector_cfg = src / "mm_projector" / "config.json"
    projector_type = top.get("mm_projector_type") or (
        json.loads(projector_cfg.read_text(encoding="utf-8")).get("mm_projector_type") if projector_cfg.is_file() else None
    ) or "mlp2x_gelu"
    select_layer = int(top.get("mm_vision_select_layer", -1))
    select_feature = top.get("mm_vision_select_feature", "cls_patch")
    if select_feature not in _SELECT_FEATURE:
        raise VilaFormatError(f"mm_vision_select_feature {select_feature!r} is not supported ({sorted(_SELECT_FEATURE)})")

    text_config = AutoConfig.from_pretrained(src / "llm")
    vision_config = AutoConfig.from_pretrained(src / "vision_tower")
    if vision_config.model_type == "siglip":
        vision_config = vision_config.vision_config
    tokenizer = AutoTokenizer.from_pretrained(src / "llm")
    image_token_id = add_image_token(tokenizer)
    vocab = max(len(tokenizer), text_config.vocab_size)

    state = map_llm(load_tensors(src / "llm"))
    old_vocab = state["model.language_model.embed_tokens.weight"].shape[0]
    for key in ("model.language_model.embed_tokens.weight", "lm_head.weight"):
        if key in state:
            state[key] = _grow_rows(state[key], vocab)
    text_config.vocab_size = vocab
    state.update(map_vision(load_tensors(src / "vision_tower")))
    state.update(map_projector(load_tensors(src / "mm_projector"), projector_type))
    if getattr(text_config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)

    config = vila_config(
        vision_config, text_config, image_token_id,
        vision_feature_layer=select_layer, vision_feature_select_strategy=_SELECT_FEATURE[select_feature],
    )
    config.architectures = ["LlavaForConditionalGeneration"]
    config.dtype = state["model.language_model.embed_tokens.weight"].dtype
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with torch.device("meta"):  # only for the key layout save_pretrained writes; the tensors are `state`
        skeleton = LlavaForConditionalGeneration(config)
    skeleton.save_pretrained(tmp, state_dict=state, max_shard_size=max_shard_size)
    try:
        generation = GenerationConfig.from_pretrained(src / "llm")
    except OSError:
        generation = GenerationConfig.from_model_config(text_config)
    generation.suppress_tokens = [image_token_id]
    generation.save_pretrained(tmp)
    processor = build_processor(_image_processor(src / "vision_tower", vision_config), tokenizer, config)
    processor.save_pretrained(tmp)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    logger.info(
        "converted %s -> %s (vocab %d -> %d, <image> id %d, vision layer %d, %s)",
        src, dst, old_vocab, vocab, image_token_id, select_layer, config.vision_feature_select_strategy,
    )
    return dst


def export_vila(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """The inverse of :func:`convert_vila`: a Llava folder written in VILA's layout (``llm/``,
    ``vision_tower/``, ``mm_projector/`` and a ``llava_llama`` config.json).

    For the demo and tests, which need a VILA checkpoint to convert and cannot download the released
    one; converting the result back gives the same weights. The tokenizer keeps its ``<image>``
    token, so the round trip keeps the vocabulary.
    """
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoProcessor

    src, dst = Path(src), Path(dst)
    model = LlavaForConditionalGeneration.from_pretrained(src)
    processor = AutoProcessor.from_pretrained(src)
    config = model.config
    llm = AutoModelForCausalLM.from_config(config.text_config)
    state = {f"model.{k}": v for k, v in model.model.language_model.state_dict().items()}
    state["lm_head.weight"] = model.lm_head.weight
    llm.load_state_dict(state, strict=True)
    llm.save_pretrained(dst / "llm")
    processor.tokenizer.save_pretrained(dst / "llm")
    model.model.vision_tower.save_pretrained(dst / "vision_tower")
    processor.image_processor.save_pretrained(dst / "vision_tower")
    projector = model.model.multi_modal_projector
    (dst / "mm_projector").mkdir(parents=True, exist_ok=True)
    save_file({"layers.0.weight": projector.linear_1.weight.contiguous(), "layers.0.bias": projector.linear_1.bias,
               "layers.2.weight": projector.linear_2.weight.contiguous(), "layers.2.bias": projector.linear_2.bias},
              str(dst / "mm_projector" / "model.safetensors"))
    feature = {v: k for k, v in _SELECT_FEATURE.items()}[config.vision_feature_select_strategy]
    top = {"model_type": "llava_llama", "architectures": ["LlavaLlamaModel"], "mm_projector_type": "mlp2x_gelu",
           "mm_vision_select_layer": config.vision_feature_layer, "mm_vision_select_feature": feature}
    atomic_write_json(dst / "mm_projector" / "config.json", {"mm_projector_type": "mlp2x_gelu"})
    atomic_write_json(dst / "config.json", top)
    logger.info("exported %s -> %s (VILA layout)", src, dst)
    return dst
