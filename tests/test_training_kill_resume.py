"""README's tiny step-1 and step-2 commands, literally: each trains and prints its summary; killed
with ``kill -9`` (the process group) after a checkpoint and re-run with ``--resume_from_checkpoint
true``, it resumes at the saved data position (no replay) and ends at the uninterrupted run's weights."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForImageTextToText

from dataset_builders.tiny.models import save_tiny_llava
from training.data.synthetic import write_tiny_datasets

REPO = Path(__file__).resolve().parents[1]


def readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("Tiny steps 1 and 2 on the demo's data", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [shlex.split(cmd) for cmd in block.replace("\\\n", " ").strip().splitlines()]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, *cmd[1:]], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=900, start_new_session=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stderr


def _kill_after_checkpoint(cmd: list[str], cwd: Path, out: Path) -> int:
    """Start ``cmd``, kill -9 its process group as soon as a checkpoint is complete; returns its step."""
    proc = subprocess.Popen([sys.executable, *cmd[1:]], cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = sorted(int(p.parent.name.split("-")[1]) for p in out.glob("checkpoint-*/trainer_state.json"))
            if done:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=60)
                return done[-1]
            time.sleep(0.05)
        raise AssertionError(f"no checkpoint in {out} before the run ended (rc {proc.poll()})")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


@pytest.mark.slow
def test_readme_tiny_commands_train_summarise_and_resume_after_kill_to_the_same_weights(tmp_path):
    commands = readme_commands()
    assert [c[1] for c in commands] == ["training/step1.py", "training/step2.py"]
    work = tmp_path / "work"
    (work / "demo-out" / "models").mkdir(parents=True)
    for name in ("configs", "training"):
        (work / name).symlink_to(REPO / name)
    data = write_tiny_datasets(tmp_path / "data")
    for kind, folder in data.items():
        shutil.copytree(folder, work / "demo-out" / "datasets" / f"ja-{kind}")
    save_tiny_llava(work / "demo-out" / "models" / "step0", seed=0)  # what the demo's step 0 leaves

    for cmd in commands:
        out = work / cmd[cmd.index("--output_dir") + 1]
        step = cmd[1][len("training/step"):-len(".py")]
        log = _run([*cmd, "--output_dir", str(out) + "-reference"], work)
        assert re.search(rf"step {step} finished: 8/8 optimizer steps, loss [\d.]+ -> [\d.]+", log), log[-3000:]
        assert "samples      tokens" in log
        killed_at = _kill_after_checkpoint(cmd, work, out)
        assert not (out / "model.safetensors").exists()  # it did not finish
        for partial in out.glob("checkpoint-*"):  # a checkpoint the kill cut short (see faults: newest complete)
            if int(partial.name.split("-")[1]) > killed_at:
                shutil.rmtree(partial)
        log = _run([*cmd, "--resume_from_checkpoint", "true"], work)
        assert f"resumed from step {killed_at} at row {killed_at * 2};" in log, log[-3000:]
        assert "Fast-forwarding" not in log and "replays" not in log
        assert re.search(rf"step {step} finished: 8/8 optimizer steps.*\(resumed from step {killed_at}\)", log)
        ref = AutoModelForImageTextToText.from_pretrained(str(out) + "-reference").state_dict()
        got = AutoModelForImageTextToText.from_pretrained(out).state_dict()
        assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
