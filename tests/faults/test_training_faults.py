"""Training faults: a mixture that can never yield a trainable row is an error naming the source
and its drop reasons (not an endless loop at 100% CPU), and a checkpoint whose save was cut short
is skipped on resume (the newest complete one is used, and the log says so)."""

from __future__ import annotations

import io
import json
import logging
import tarfile
from pathlib import Path

import pytest

from dataset_builders.tiny.models import save_tiny_llava, tiny_llava
from training import step0, step1
from training.data import DataSource, Renderer, VilaStream
from training.data.synthetic import colour_image, write_interleaved, write_pairs

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-faults")
    return {
        "model": save_tiny_llava(root / "model", seed=0),
        "pairs": write_pairs(root / "pairs", n=8),
        "interleaved": write_interleaved(root / "interleaved", n=6),
        "wrong": _wrong_schema_shard(root / "wrong" / "data" / "shard-00000.tar", n=5),
    }


def _wrong_schema_shard(path: Path, n: int) -> Path:
    """Image + JSON samples that are none of the three schemas (a caption field nobody reads)."""
    path.parent.mkdir(parents=True)
    buf = io.BytesIO()
    colour_image("赤").save(buf, format="JPEG")
    with tarfile.open(path, "w") as tar:
        for i in range(n):
            for ext, data in (("jpg", buf.getvalue()), ("json", json.dumps({"caption": "赤"}).encode())):
                info = tarfile.TarInfo(f"s{i:03d}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path.parent.parent


def _stream(tiny, specs: list[str], max_length: int = 256, repeat: bool = True) -> VilaStream:
    _, processor = tiny_llava(seed=0)
    renderer = Renderer(processor.tokenizer, image_seq_length=4, max_length=max_length)
    return VilaStream([DataSource.parse(s) for s in specs], renderer, repeat=repeat)


# -- 7: a mixture with nothing to train on ---------------------------------------------------------

@pytest.mark.timeout(240)  # before the fix this looped forever; the deadline ends that run
def test_step_with_only_too_long_documents_errors_naming_the_source(tiny, tmp_path):
    argv = ["--config", str(CONFIGS / "tiny_step1.yaml"), "--model_name_or_path", str(tiny["model"]),
            "--dataset_paths", f"docs={tiny['interleaved']}", "--max_length", "12", "--max_steps", "2",
            "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError, match="docs") as info:
        step1.cli(argv)
    message = str(info.value)
    assert "too_long" in message and "max_length" in message
    assert not (tmp_path / "out" / "model.safetensors").exists()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("repeat", [True, False])
def test_wrong_schema_source_errors_with_its_drop_reason(tiny, repeat):
    stream = _stream(tiny, [f"wrong={tiny['wrong']}"], repeat=repeat)
    with pytest.raises(ValueError, match="wrong") as info:
        next(iter(stream))
    assert "unknown_schema" in str(info.value) and "5" in str(info.value)


@pytest.mark.timeout(180)
def test_unusable_source_beside_a_good_one_is_named_not_silently_skipped(tiny):
    stream = _stream(tiny, [f"good={tiny['pairs']}", f"bad={tiny['wrong']}"])
    rows = 0
    with pytest.raises(ValueError, match="bad") as info:
        for _ in stream:
            rows += 1
    assert "good" not in str(info.value).split("bad", 1)[0]  # the message names the unusable source
    assert rows <= 8  # the good source's rows came before the bad one finished its first pass


def test_a_usable_mixture_still_streams(tiny):
    stream = _stream(tiny, [f"pairs={tiny['pairs']}", f"docs={tiny['interleaved']}"])
    rows = [row for _, row in zip(range(40), stream, strict=False)]
    assert len(rows) == 40 and stream.stats["kept/pairs"] + stream.stats["kept/docs"] == 40


# -- 10: a checkpoint whose save was cut short ------------------------------------------------------

def _common(tiny, out: Path) -> list[str]:
    return ["--config", str(CONFIGS / "tiny_step0.yaml"), "--model_name_or_path", str(tiny["model"]),
            "--dataset_paths", str(tiny["pairs"]), "--max_steps", "3", "--save_strategy", "steps",
            "--save_steps", "1", "--output_dir", str(out)]


def test_resume_skips_a_partial_checkpoint_and_says_so(tiny, tmp_path, caplog):
    out = tmp_path / "out"
    first = step0.cli([*_common(tiny, out), "--stop_after_steps", "2"])
    assert first["global_step"] == 2 and not first["finished"]
    # a kill during the save of checkpoint-2: trainer_state.json (written last) never came
    (out / "checkpoint-2" / "trainer_state.json").unlink()
    with caplog.at_level(logging.INFO):
        resumed = step0.cli([*_common(tiny, out), "--resume_from_checkpoint", "true"])
    assert resumed["global_step"] == 3 and resumed["finished"]
    assert resumed["losses"][0] == first["losses"][0]  # step 1 came from checkpoint-1's history
    log = caplog.text
    assert "checkpoint-2" in log and "checkpoint-1" in log and "incomplete" in log


def test_truncated_trainer_state_is_incomplete_too(tiny, tmp_path, caplog):
    out = tmp_path / "out"
    step0.cli([*_common(tiny, out), "--stop_after_steps", "2"])
    state = out / "checkpoint-2" / "trainer_state.json"
    state.write_text(state.read_text()[:40])  # killed in the middle of writing the JSON
    with caplog.at_level(logging.INFO):
        resumed = step0.cli([*_common(tiny, out), "--resume_from_checkpoint", "true"])
    assert resumed["global_step"] == 3 and "checkpoint-1" in caplog.text


def test_explicit_partial_checkpoint_is_a_clear_error(tiny, tmp_path):
    out = tmp_path / "out"
    step0.cli([*_common(tiny, out), "--stop_after_steps", "1"])
    (out / "checkpoint-1" / "trainer_state.json").unlink()
    with pytest.raises(ValueError, match=r"checkpoint-1.*incomplete"):
        step0.cli([*_common(tiny, out), "--resume_from_checkpoint", str(out / "checkpoint-1")])
