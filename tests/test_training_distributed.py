"""Two real processes (gloo on CPU): step 0 checkpoints, is resumed, and ends at the weights of an
uninterrupted run. ``accelerate launch --cpu --num_processes 2`` would silently run ONE process
(DESIGN §4), so the launch uses ``ACCELERATE_USE_CPU=true … --multi_gpu``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForImageTextToText

from dataset_builders.tiny.models import save_tiny_llava
from training.data.synthetic import write_pairs

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args: list[str], out: Path) -> tuple[dict, str]:
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": str(REPO)}  # this checkout's packages, whatever the editable install points at
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), str(REPO / "training" / "step0.py"), *args,
           "--output_dir", str(out)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:  # the launcher and both ranks: one process group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    assert proc.returncode == 0, stderr[-4000:]
    return json.loads((out / "vila_step_summary.json").read_text()), stderr


@pytest.mark.slow
def test_two_process_step0_resumes_to_the_uninterrupted_weights(tmp_path):
    init = save_tiny_llava(tmp_path / "init", seed=0)
    data = write_pairs(tmp_path / "pairs", n=24)
    common = ["--config", str(REPO / "configs" / "train" / "tiny_step0.yaml"), "--model_name_or_path", str(init),
              "--dataset_paths", str(data), "--max_steps", "6", "--save_strategy", "steps", "--save_steps", "3",
              "--ddp_backend", "gloo"]
    full, _ = _launch(common, tmp_path / "full")
    assert full["world_size"] == 2 and full["global_step"] == 6
    cut, _ = _launch([*common, "--stop_after_steps", "3"], tmp_path / "cut")
    assert cut["global_step"] == 3 and not cut["finished"] and (tmp_path / "cut" / "checkpoint-3").is_dir()
    resumed, log = _launch([*common, "--resume_from_checkpoint", "true"], tmp_path / "cut")
    assert resumed["world_size"] == 2 and resumed["global_step"] == 6 and resumed["finished"]
    # both ranks start the stream at the saved position: 3 steps x 2 per device x 2 ranks = row 12
    assert log.count("resumed from step 3 at row 12;") == 2 and "replays" not in log
    assert resumed["data"] == full["data"]
    assert resumed["losses"] == pytest.approx(full["losses"], abs=1e-6)
    a = AutoModelForImageTextToText.from_pretrained(tmp_path / "full").state_dict()
    b = AutoModelForImageTextToText.from_pretrained(tmp_path / "cut").state_dict()
    init_sd = AutoModelForImageTextToText.from_pretrained(init).state_dict()
    projector = [k for k in a if k.startswith("model.multi_modal_projector.")]
    assert all(not torch.equal(a[k], init_sd[k]) for k in projector)  # it trained
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-6)
    # the summary counts both ranks' rows exactly: 6 steps x 2 per device x 2 ranks
    assert full["data"]["rows"] == 24 == full["data"]["sources"]["pairs"]["samples"]
