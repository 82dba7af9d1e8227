"""The tiny models and tokenizer that tests and the demo build from configs (no Hub)."""

from __future__ import annotations

import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from dataset_builders.tiny.models import TinyLlavaSpec, save_tiny_llava, tiny_clip, tiny_llava
from dataset_builders.tiny.tokenizer import IMAGE_TOKEN, build_tokenizer


def test_tokenizer_round_trips_any_text_and_keeps_image_token_whole():
    tok = build_tokenizer()
    for text in ["富士山は日本一高い山です。", "絵文字😀とＡＢＣ全角、URL https://example.jp/a?b=1", "ｶﾀｶﾅ\tタブ\n改行"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        assert tok.decode(ids) == text
        assert tok.unk_token_id not in ids
    ids = tok(f"{IMAGE_TOKEN}猫{IMAGE_TOKEN}", add_special_tokens=False)["input_ids"]
    assert ids.count(tok.convert_tokens_to_ids(IMAGE_TOKEN)) == 2
    assert build_tokenizer().get_vocab() == tok.get_vocab()  # deterministic training


def test_tiny_llava_has_the_vila_structure_and_expands_image_tokens():
    spec = TinyLlavaSpec(image_size=28, patch_size=14)
    model, processor = tiny_llava(spec=spec)
    cfg = model.config
    assert (cfg.vision_feature_select_strategy, cfg.vision_feature_layer, cfg.projector_hidden_act) == ("full", -1, "gelu")
    assert cfg.vision_config.model_type == "siglip_vision_model" and cfg.text_config.model_type == "llama"
    img = Image.new("RGB", (50, 40), (10, 120, 200))
    batch = processor(images=[img, img, img], text=f"{IMAGE_TOKEN}一枚目。{IMAGE_TOKEN}二枚目。{IMAGE_TOKEN}", return_tensors="pt")
    n_image_tokens = int((batch["input_ids"] == cfg.image_token_index).sum())
    assert n_image_tokens == 3 * spec.image_tokens == 12
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (1, batch["input_ids"].shape[1], len(processor.tokenizer))


def test_tiny_llava_saves_and_loads_offline_with_auto_classes(tmp_path):
    folder = save_tiny_llava(tmp_path / "tiny", seed=3)
    model, processor = tiny_llava(seed=3)
    loaded = AutoModelForImageTextToText.from_pretrained(folder)
    loaded_processor = AutoProcessor.from_pretrained(folder)
    batch = loaded_processor(images=[Image.new("RGB", (30, 30), (200, 0, 0))], text=f"{IMAGE_TOKEN}赤", return_tensors="pt")
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, model(**batch).logits)
    assert not torch.equal(tiny_llava(seed=4)[0](**batch).logits, model(**batch).logits)


def test_tiny_clip_embeds_images_and_texts():
    model, image_processor, tokenizer = tiny_clip(seed=0)
    pixels = image_processor(images=[Image.new("RGB", (64, 48), c) for c in [(255, 0, 0), (0, 0, 255)]], return_tensors="pt")["pixel_values"]
    text = tokenizer(["赤い画像", "青い画像です"], return_tensors="pt", padding=True)
    with torch.no_grad():
        image_features = model.get_image_features(pixel_values=pixels).pooler_output
        text_features = model.get_text_features(**text).pooler_output
    assert image_features.shape == text_features.shape == (2, 16)
    assert not torch.allclose(image_features[0], image_features[1])
