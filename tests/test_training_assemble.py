"""Model assembly (SigLIP + causal LM → Llava), the llmjp_v3 template and the real-size structure."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    LlamaForCausalLM,
    LlavaForConditionalGeneration,
    SiglipVisionModel,
)

from training.assemble import assemble_vila, real_size_config, save_vila
from training.chat_template import SYSTEM_PROMPT
from training.demo import save_tiny_components


@pytest.fixture(scope="module")
def components(tmp_path_factory):
    return save_tiny_components(tmp_path_factory.mktemp("components"), seed=0)


def test_assembly_copies_both_towers_and_loads_back_with_auto_classes(components, tmp_path):
    vision_dir, llm_dir = components
    model, processor = assemble_vila(vision_dir, llm_dir, seed=0)
    vision = SiglipVisionModel.from_pretrained(vision_dir)
    llm = LlamaForCausalLM.from_pretrained(llm_dir)
    cfg = model.config
    assert (cfg.vision_feature_select_strategy, cfg.vision_feature_layer, cfg.projector_hidden_act) == ("full", -1, "gelu")
    assert cfg.image_seq_length == 4 and cfg.image_token_id == processor.tokenizer.convert_tokens_to_ids("<image>")
    torch.testing.assert_close(model.model.vision_tower.state_dict()["encoder.layers.0.mlp.fc1.weight"],
                               vision.state_dict()["encoder.layers.0.mlp.fc1.weight"])
    torch.testing.assert_close(model.lm_head.weight, llm.lm_head.weight)
    # the projector is freshly initialised, seeded
    again, _ = assemble_vila(vision_dir, llm_dir, seed=0)
    other, _ = assemble_vila(vision_dir, llm_dir, seed=1)
    p = model.model.multi_modal_projector.linear_1.weight
    assert torch.equal(p, again.model.multi_modal_projector.linear_1.weight)
    assert not torch.equal(p, other.model.multi_modal_projector.linear_1.weight)

    folder = save_vila(model, processor, tmp_path / "vila")
    loaded = AutoModelForImageTextToText.from_pretrained(folder)
    loaded_processor = AutoProcessor.from_pretrained(folder)
    batch = loaded_processor(images=[Image.new("RGB", (40, 30), (0, 200, 0))], text="<s><image>緑の画像", return_tensors="pt")
    assert int((batch["input_ids"] == cfg.image_token_id).sum()) == 4
    with torch.no_grad():
        torch.testing.assert_close(loaded(**batch).logits, model(**batch).logits)


def test_llm_without_image_token_gets_one_and_a_bigger_embedding(components, tmp_path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(["猫と犬の写真"], trainers.BpeTrainer(
        vocab_size=280, special_tokens=["<unk>", "<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    llm = LlamaForCausalLM(LlamaConfig(vocab_size=len(fast), hidden_size=64, intermediate_size=128,
                                       num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4))
    llm.save_pretrained(tmp_path / "llm")
    fast.save_pretrained(tmp_path / "llm")
    model, processor = assemble_vila(components[0], tmp_path / "llm")
    assert processor.tokenizer.convert_tokens_to_ids("<image>") == len(fast)
    assert model.get_input_embeddings().num_embeddings == len(fast) + 1
    assert processor.tokenizer.pad_token == "</s>"  # no pad token: EOS pads
    torch.testing.assert_close(model.lm_head.weight[: len(fast)], llm.lm_head.weight)


def test_processor_renders_llmjp_v3(components):
    _, processor = assemble_vila(*components)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "何が写っていますか？"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "猫です。"}]}]
    text = processor.apply_chat_template(messages)
    assert text == (f"<s>{SYSTEM_PROMPT}\n\n### 指示:\n<image>\n何が写っていますか？\n\n### 応答:\n猫です。</s>")
    system = [{"role": "system", "content": "あなたは親切です。"}, *messages[:1]]
    assert processor.apply_chat_template(system, add_generation_prompt=True).startswith("<s>あなたは親切です。\n\n### 指示:")


def test_real_size_config_has_the_14b_structure():
    config = real_size_config()
    assert config.image_seq_length == 729 == (384 // 14) ** 2
    assert config.vision_feature_select_strategy == "full" and config.vision_feature_layer == -1
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(config)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["model.multi_modal_projector.linear_1.weight"] == (5120, 1152)
    assert shapes["model.multi_modal_projector.linear_2.weight"] == (5120, 5120)
    assert shapes["model.language_model.embed_tokens.weight"] == (99585, 5120)
    assert shapes["lm_head.weight"] == (99585, 5120)
    assert shapes["model.vision_tower.embeddings.position_embedding.weight"] == (729, 1152)
    count = lambda prefix: sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))  # noqa: E731
    assert 13.5e9 < count("model.language_model.") + count("lm_head.") < 14.0e9
    assert 0.40e9 < count("model.vision_tower.") < 0.44e9  # SigLIP so400m (vision tower incl. pooling head)
    assert count("model.multi_modal_projector.") == 1152 * 5120 + 5120 + 5120 * 5120 + 5120
    assert 13.9e9 < sum(p.numel() for p in model.parameters()) < 14.5e9
