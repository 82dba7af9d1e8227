"""VILA-format checkpoint (llm/, vision_tower/, mm_projector/) → plain transformers Llava."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch import nn
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    SiglipImageProcessor,
    SiglipVisionConfig,
    SiglipVisionModel,
)
from typer.testing import CliRunner

from training.convert_vila import VilaFormatError, convert_vila

VILA_IMAGE_INDEX = -200  # VILA's out-of-vocabulary image marker


def _tokenizer_without_image_token() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(["これは猫の画像です。", "赤い車が走っている。"], trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )


@pytest.fixture(scope="module")
def vila_checkpoint(tmp_path_factory):
    """A tiny checkpoint in VILA's layout, as llm-jp-3-vila-14b ships (projector mlp2x_gelu)."""
    root = tmp_path_factory.mktemp("vila") / "llm-jp-3-vila-tiny"
    tok = _tokenizer_without_image_token()
    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=3,
    ))
    vision = SiglipVisionModel(SiglipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2, image_size=28, patch_size=14,
    ))
    projector = nn.Sequential(nn.Linear(32, 64), nn.GELU(), nn.Linear(64, 64))
    llm.save_pretrained(root / "llm")
    tok.save_pretrained(root / "llm")
    vision.save_pretrained(root / "vision_tower")
    SiglipImageProcessor(size={"height": 28, "width": 28}).save_pretrained(root / "vision_tower")
    (root / "mm_projector").mkdir(parents=True)
    layers = {f"layers.{k}": v.contiguous() for k, v in projector.state_dict().items()}  # VILA: self.layers
    save_file(layers, str(root / "mm_projector" / "model.safetensors"))
    (root / "mm_projector" / "config.json").write_text(json.dumps({"mm_projector_type": "mlp2x_gelu"}))
    (root / "config.json").write_text(json.dumps({
        "model_type": "llava_llama", "architectures": ["LlavaLlamaModel"], "mm_projector_type": "mlp2x_gelu",
        "mm_vision_select_layer": -2, "mm_vision_select_feature": "cls_patch",
    }))
    return root, llm.eval(), vision.eval(), projector.eval(), tok


def _reference_logits(llm, vision, projector, ids_with_marker: list[int], pixels: torch.Tensor) -> torch.Tensor:
    """VILA's forward, from the source modules: image features spliced in at the -200 marker."""
    with torch.no_grad():
        feats = projector(vision(pixel_values=pixels, output_hidden_states=True).hidden_states[-2])[0]
        pieces = []
        for t in ids_with_marker:
            if t == VILA_IMAGE_INDEX:
                pieces.append(feats)
            else:
                pieces.append(llm.get_input_embeddings()(torch.tensor([t])))
        embeds = torch.cat(pieces).unsqueeze(0)
        return llm(inputs_embeds=embeds).logits[0]


def test_converted_vila_checkpoint_gives_the_reference_logits(vila_checkpoint, tmp_path):
    src, llm, vision, projector, tok = vila_checkpoint
    dst = convert_vila(src, tmp_path / "hf", max_shard_size="200KB")  # several shards + index
    assert (dst / "model.safetensors.index.json").is_file()
    model = AutoModelForImageTextToText.from_pretrained(dst).eval()
    processor = AutoProcessor.from_pretrained(dst)
    cfg = model.config
    assert cfg.image_token_id == len(tok)  # <image> appended to the vocabulary
    assert cfg.text_config.vocab_size == len(tok) + 1
    assert (cfg.vision_feature_layer, cfg.vision_feature_select_strategy, cfg.image_seq_length) == (-2, "full", 4)
    assert model.generation_config.suppress_tokens == [cfg.image_token_id]

    torch.manual_seed(1)
    pixels = torch.randn(1, 3, 28, 28)
    text_ids = tok("これは猫の画像です。", add_special_tokens=False)["input_ids"]
    reference = _reference_logits(llm, vision, projector, [1, VILA_IMAGE_INDEX, *text_ids], pixels)
    ids = torch.tensor([[1, *[cfg.image_token_id] * 4, *text_ids]])
    with torch.no_grad():
        logits = model(input_ids=ids, pixel_values=pixels).logits[0, :, : len(tok)]
    assert logits.shape == reference.shape
    torch.testing.assert_close(logits, reference, atol=1e-5, rtol=1e-5)
    # the processor expands <image> the same way the reference splices the features
    batch = processor(text="<s><image>これは猫の画像です。", images=[torch.zeros(3, 28, 28)], return_tensors="pt")
    assert int((batch["input_ids"] == cfg.image_token_id).sum()) == 4


def test_projector_weights_land_in_the_right_linear(vila_checkpoint, tmp_path):
    src, _, _, projector, _ = vila_checkpoint
    model = AutoModelForImageTextToText.from_pretrained(convert_vila(src, tmp_path / "hf"))
    torch.testing.assert_close(model.model.multi_modal_projector.linear_1.weight, projector[0].weight)
    torch.testing.assert_close(model.model.multi_modal_projector.linear_2.bias, projector[2].bias)


def test_convert_refuses_a_folder_that_is_not_vila(tmp_path):
    (tmp_path / "llm").mkdir()
    with pytest.raises(VilaFormatError, match="vision_tower"):
        convert_vila(tmp_path, tmp_path / "out")


def test_cli_convert_vila(vila_checkpoint, tmp_path):
    from ja_vila.cli import app

    src = vila_checkpoint[0]
    result = CliRunner().invoke(app, ["convert-vila", str(src), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "config.json").is_file()
    bad = CliRunner().invoke(app, ["convert-vila", str(tmp_path / "missing"), str(tmp_path / "o2")])
    assert bad.exit_code == 2


def test_export_vila_is_the_inverse_of_convert_vila(tmp_path):
    """The demo writes its own VILA-layout checkpoint: converting it back gives the same weights."""
    from transformers import LlavaForConditionalGeneration

    from dataset_builders.tiny.models import save_tiny_llava
    from training.convert_vila import export_vila

    llava = save_tiny_llava(tmp_path / "llava", seed=5)
    vila = export_vila(llava, tmp_path / "vila")
    assert {p.name for p in vila.iterdir()} == {"config.json", "llm", "vision_tower", "mm_projector"}
    assert json.loads((vila / "config.json").read_text())["model_type"] == "llava_llama"
    back = convert_vila(vila, tmp_path / "back")
    before = LlavaForConditionalGeneration.from_pretrained(llava).state_dict()
    after = LlavaForConditionalGeneration.from_pretrained(back).state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
