"""The three training steps on tiny models and data: losses fall, the right parameters move, the
output loads in plain transformers, and resuming gives the uninterrupted run's weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline

from training import step0
from training.assemble import assemble_vila
from training.data.synthetic import write_tiny_datasets
from training.demo import run_demo_training

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-demo")
    datasets = write_tiny_datasets(root / "data")
    results = run_demo_training(datasets, root / "out", seed=0, max_steps=12)
    return root, datasets, results


def _weights(folder) -> dict[str, torch.Tensor]:
    return AutoModelForImageTextToText.from_pretrained(folder).state_dict()


def _changed(before: dict, after: dict) -> dict[str, set[str]]:
    groups = {"projector": "model.multi_modal_projector.", "vision": "model.vision_tower.",
              "llm": "model.language_model.", "lm_head": "lm_head."}
    out = {g: set() for g in groups}
    for key, value in after.items():
        if not torch.equal(value, before[key]):
            out[next(g for g, p in groups.items() if key.startswith(p))].add(key)
    return out


def _falls(losses: list[float]) -> bool:
    return sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 - 0.05


def test_each_step_lowers_the_loss(demo):
    _, _, results = demo
    assert set(results) == {"step0", "step1", "step2"}
    for name, r in results.items():
        assert len(r["losses"]) == 12, name
        assert _falls(r["losses"]), (name, r["losses"])


def test_step0_trains_only_the_projector_and_steps_1_2_also_the_llm(demo):
    root, _, results = demo
    out = root / "out"
    init, _ = assemble_vila(out / "components" / "vision", out / "components" / "llm", seed=0)
    s0, s1, s2 = (_weights(out / f"step{i}") for i in range(3))
    c0 = _changed(init.state_dict(), s0)
    assert c0["projector"] and not c0["vision"] and not c0["llm"] and not c0["lm_head"]
    for before, after in ((s0, s1), (s1, s2)):
        c = _changed(before, after)
        assert c["projector"] and c["llm"] and c["lm_head"] and not c["vision"]
    n_projector = sum(v.numel() for k, v in s0.items() if k.startswith("model.multi_modal_projector."))
    assert results["step0"]["trainable_parameters"] == n_projector
    assert results["step1"]["trainable_parameters"] > 10 * n_projector


def test_trained_model_loads_without_remote_code_and_generates_in_the_pipeline(demo):
    root, _, _ = demo
    folder = root / "out" / "step2"
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlavaForConditionalGeneration"] and "auto_map" not in config
    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=False)
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False)
    assert type(model).__name__ == "LlavaForConditionalGeneration" and type(processor).__name__ == "LlavaProcessor"
    pipe = pipeline("image-text-to-text", model=model, processor=processor)
    messages = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (32, 32), (220, 30, 30))},
                                             {"type": "text", "text": "この画像は何色ですか？"}]}]
    out = pipe(text=messages, max_new_tokens=6, do_sample=False)
    answer = out[0]["generated_text"][-1]
    assert answer["role"] == "assistant" and isinstance(answer["content"], str) and answer["content"]
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    assert prompt.endswith("### 指示:\n<image>\nこの画像は何色ですか？\n\n### 応答:\n")


def test_resume_continues_at_the_same_step_and_data_position(demo, tmp_path):
    root, datasets, _ = demo
    common = ["--config", str(CONFIGS / "tiny_step0.yaml"), "--model_name_or_path", str(root / "out" / "step0"),
              "--dataset_paths", str(datasets["pairs"]), "--max_steps", "6", "--save_strategy", "steps",
              "--save_steps", "3"]
    full = step0.main([*common, "--output_dir", str(tmp_path / "full")])
    first = step0.main([*common, "--output_dir", str(tmp_path / "cut"), "--stop_after_steps", "3"])
    assert first["global_step"] == 3 and not first["finished"]
    assert (tmp_path / "cut" / "checkpoint-3").is_dir() and not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = step0.main([*common, "--output_dir", str(tmp_path / "cut"), "--resume_from_checkpoint", "true"])
    assert resumed["global_step"] == 6 and resumed["finished"]
    # steps 1-3 come from the checkpoint's log history, steps 4-6 were trained again on the same batches
    assert resumed["losses"] == full["losses"]
    assert first["losses"] == full["losses"][:3]
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_step_refuses_to_start_without_a_model_or_a_run_length(tmp_path, demo):
    root, datasets, _ = demo
    base = ["--config", str(CONFIGS / "tiny_step0.yaml"), "--dataset_paths", str(datasets["pairs"]),
            "--output_dir", str(tmp_path / "x")]
    with pytest.raises(ValueError, match="model_name_or_path"):
        step0.main(base)
    with pytest.raises(ValueError, match="max_steps"):
        step0.main([*base, "--model_name_or_path", str(root / "out" / "step0"), "--max_steps", "-1"])
