"""The three training steps on tiny models and data: losses fall, the right parameters move, step 1
trains on interleaved documents, the output loads in plain transformers, and resuming gives the
uninterrupted run's weights without reading the trained part of the data again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, pipeline

import training.data.collator as collator_module
from training import step0, step1
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


def test_step1_trains_on_interleaved_documents_and_each_step_summarises_its_sources(demo):
    root, _, results = demo
    s1 = results["step1"]["data"]
    docs, pairs = s1["sources"]["interleaved"], s1["sources"]["pairs"]
    assert docs["samples"] > 0 and pairs["samples"] > 0 and s1["exact"]
    assert docs["images"] >= 2 * docs["samples"]  # 2-3 images per document, all of them trained
    assert docs["samples"] + pairs["samples"] == s1["rows"] == 12 * 2  # 12 steps x batch 2, unpacked
    summary = json.loads((root / "out" / "step1" / "vila_step_summary.json").read_text())
    assert summary["data"] == s1 and summary["loss_first"] == summary["losses"][0] and summary["train_runtime"] > 0
    assert results["step2"]["data"]["sources"]["instruct"]["samples"] == 24


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


def test_resume_continues_at_the_same_step_and_data_position_without_replaying_the_data(demo, tmp_path,
                                                                                        monkeypatch, caplog):
    root, datasets, _ = demo
    common = ["--config", str(CONFIGS / "tiny_step0.yaml"), "--model_name_or_path", str(root / "out" / "step0"),
              "--dataset_paths", str(datasets["pairs"]), "--max_steps", "6", "--save_strategy", "steps",
              "--save_steps", "3"]
    full = step0.cli([*common, "--output_dir", str(tmp_path / "full")])
    first = step0.cli([*common, "--output_dir", str(tmp_path / "cut"), "--stop_after_steps", "3"])
    assert first["global_step"] == 3 and not first["finished"]
    assert (tmp_path / "cut" / "checkpoint-3" / "vila_stream_state.pt").is_file()
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    decoded = []
    real_decode = collator_module.decode_image
    monkeypatch.setattr(collator_module, "decode_image", lambda data: decoded.append(data) or real_decode(data))
    with caplog.at_level("INFO"):
        resumed = step0.cli([*common, "--output_dir", str(tmp_path / "cut"), "--resume_from_checkpoint", "true"])
    assert resumed["global_step"] == 6 and resumed["finished"]
    assert resumed["resumed_from"]["step"] == 3
    log = caplog.text
    assert "resumed from step 3 at row 6; pairs: pass 1, shard 1/3, sample 6" in log and "Fast-forwarding" not in log
    # steps 4-6 decode 3 x 2 images, plus at most one batch read ahead; a replay would decode steps 1-3 too
    assert len(decoded) <= (6 - 3 + 1) * 2
    # steps 1-3 come from the checkpoint's log history, steps 4-6 were trained again on the same batches
    assert resumed["losses"] == full["losses"]
    assert first["losses"] == full["losses"][:3]
    assert resumed["data"] == full["data"]  # the counters continue across the resume
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert "step 0 finished: 6/6 optimizer steps" in log and "(resumed from step 3)" in log


def test_data_that_gives_nothing_stops_the_step_naming_each_source_and_reason(demo, tmp_path):
    root, datasets, _ = demo
    argv = ["--config", str(CONFIGS / "tiny_step1.yaml"), "--model_name_or_path", str(root / "out" / "step0"),
            "--dataset_paths", str(datasets["interleaved"]), "--max_length", "8", "--output_dir", str(tmp_path)]
    with pytest.raises(ValueError, match=r"data source 'interleaved' .*no trainable sample.*too_long 12"):
        step1.cli(argv)  # it used to loop forever


def test_step_refuses_to_start_without_a_model_or_a_run_length(tmp_path, demo):
    root, datasets, _ = demo
    base = ["--config", str(CONFIGS / "tiny_step0.yaml"), "--dataset_paths", str(datasets["pairs"]),
            "--output_dir", str(tmp_path / "x")]
    with pytest.raises(ValueError, match="model_name_or_path"):
        step0.cli(base)
    with pytest.raises(ValueError, match="max_steps"):
        step0.cli([*base, "--model_name_or_path", str(root / "out" / "step0"), "--max_steps", "-1"])


def test_packed_resume_with_a_dataloader_worker_restores_the_position_the_worker_saved(demo, tmp_path, caplog):
    """The paper presets read the stream in a dataloader worker (another process, ahead of training):
    the checkpoint still holds the trained position, packer's open rows included."""
    root, datasets, _ = demo
    common = ["--config", str(CONFIGS / "tiny_step1.yaml"), "--model_name_or_path", str(root / "out" / "step0"),
              "--dataset_paths", str(datasets["pairs"]), str(datasets["interleaved"]), "--max_steps", "6",
              "--save_strategy", "steps", "--save_steps", "3", "--dataloader_num_workers", "1", "--packing", "true",
              "--max_length", "256"]
    full = step1.cli([*common, "--output_dir", str(tmp_path / "full")])
    step1.cli([*common, "--output_dir", str(tmp_path / "cut"), "--stop_after_steps", "3"])
    with caplog.at_level("INFO"):
        resumed = step1.cli([*common, "--output_dir", str(tmp_path / "cut"), "--resume_from_checkpoint", "true"])
    assert re.search(r"resumed from step 3 at row 6; pairs: pass \d+, shard \d/3, sample \d+; interleaved: .*; "
                     r"\d open packed rows", caplog.text)
    assert resumed["losses"] == full["losses"] and resumed["data"] == full["data"]
    assert full["data"]["sources"]["interleaved"]["samples"] > 0
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)
