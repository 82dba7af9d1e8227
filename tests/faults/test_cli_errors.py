"""Bad input is one line; a bug keeps its traceback. The command line prints ``error: …`` (exit 2)
only for the user's mistakes (config, arguments, paths); any other exception — a ``ValueError``
from deep inside included — propagates with its traceback, and ``-v`` adds the traceback to the
one-liners too. Typos in nested scorer settings fail at config load, and a path-like model that
does not exist is a local error, not a Hub lookup."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dataset_builders.config import ConfigError, load_config
from dataset_builders.interleaved.build import InterleavedConfig
from dataset_builders.pairs.build import PairsConfig
from ja_vila.cli import app
from training import step0
from training.data.synthetic import colour_image, write_pairs

CONFIGS = "configs/train"


def _corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(json.dumps({"url": "https://example.jp/a", "text": "こんにちは。"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


# -- internal errors keep their traceback -----------------------------------------------------------

def test_internal_value_error_in_a_build_is_not_turned_into_a_one_liner(tmp_path, monkeypatch):
    import dataset_builders.pairs.build as pairs_build

    def broken(*args, **kwargs):
        raise ValueError("a bug deep inside the builder")

    monkeypatch.setattr(pairs_build, "build_pairs", broken)
    result = CliRunner().invoke(app, ["build", "pairs", "--input", str(_corpus(tmp_path)),
                                      "--output", str(tmp_path / "out")])
    assert isinstance(result.exception, ValueError) and "a bug deep inside" in str(result.exception)
    assert result.exit_code == 1 and "error: a bug deep inside" not in result.output


@pytest.mark.parametrize("target, argv", [
    ("eval.evaluate.evaluate", ["eval", "--model", "org/name", "--tasks", "textvqa"]),
    ("ja_vila.evolve.run_evolve", ["evolve", "--config", "configs/evolve/tiny.yaml"]),
])
def test_internal_value_error_in_other_commands_keeps_its_traceback(tmp_path, monkeypatch, target, argv):
    module, _, name = target.rpartition(".")

    def broken(*args, **kwargs):
        raise ValueError("a bug deep inside")

    monkeypatch.setattr(f"{module}.{name}", broken)
    result = CliRunner().invoke(app, [*argv, "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, ValueError), result.output
    assert "error: a bug deep inside" not in result.output


def test_user_error_is_one_line_and_verbose_adds_the_traceback(tmp_path):
    args = ["build", "pairs", "--input", str(tmp_path / "missing.warc.gz"), "--output", str(tmp_path / "out"),
            "--config", "configs/data/pairs-tiny.yaml"]
    quiet = CliRunner().invoke(app, args)
    assert quiet.exit_code == 2 and "error: " in quiet.output and "missing.warc.gz" in quiet.output
    assert "Traceback" not in quiet.output
    loud = CliRunner().invoke(app, ["-v", *args])
    assert loud.exit_code == 2 and "error: " in loud.output and "Traceback" in loud.output


# -- nested config typos fail at load ---------------------------------------------------------------

@pytest.mark.parametrize("cls, overrides, bad", [
    (PairsConfig, ["scorers.clip_a.tyep=tiny"], "tyep"),
    (PairsConfig, ["scorers.clip_a.type=tiny", "scorers.clip_a.sed=1"], "sed"),
    (PairsConfig, ["scorers.clip_a.type=tinyy"], "tinyy"),
    (InterleavedConfig, ["scorer.modle=ViT-B-32"], "modle"),
    (PairsConfig, ["nsfw.scorer.pretrianed=openai"], "pretrianed"),
])
def test_nested_scorer_typos_fail_at_config_load(cls, overrides, bad):
    with pytest.raises(ConfigError, match=bad):
        load_config(cls, None, overrides)


def test_valid_scorer_settings_still_load():
    cfg = load_config(PairsConfig, None, ["scorers.clip_a.type=tiny", "scorers.clip_a.seed=3",
                                          "scorers.clip_a.batch_size=8"])
    assert cfg.scorers == {"clip_a": {"type": "tiny", "seed": 3, "batch_size": 8}}
    load_config(PairsConfig)  # the paper's scorers
    load_config(InterleavedConfig)


def test_scorer_typo_stops_the_build_before_any_work(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["build", "pairs", "--input", str(_corpus(tmp_path)), "--output", str(out),
                                      "--set", "scorers.clip_a.tyep=tiny"])
    assert result.exit_code == 2 and "tyep" in result.output
    assert not (tmp_path / "out.work").exists() and not out.exists()


# -- a path-like model that does not exist is a local error ----------------------------------------

@pytest.fixture
def textvqa_folder(tmp_path):
    folder = tmp_path / "textvqa"
    (folder / "images").mkdir(parents=True)
    colour_image("赤").save(folder / "images" / "0.jpg")
    row = {"question_id": "q0", "question": "何色？", "image": "images/0.jpg", "answers": ["赤"] * 10, "ocr_tokens": []}
    (folder / "val.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("model", ["{tmp}/no/such/model", "./no-such-model-dir", "~/no-such-model-dir"])
def test_eval_missing_model_path_is_a_local_error(tmp_path, textvqa_folder, model):
    model = model.format(tmp=tmp_path)
    result = CliRunner().invoke(app, ["eval", "--model", model, "--tasks", "textvqa", "--data",
                                      f"textvqa={textvqa_folder}", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert model in result.output and "no such file or folder" in result.output
    assert "ConnectError" not in result.output and "Repo id" not in result.output


def test_training_missing_model_path_is_a_local_error(tmp_path):
    data = write_pairs(tmp_path / "pairs", n=4)
    missing = tmp_path / "no" / "step0"
    argv = ["--config", f"{CONFIGS}/tiny_step0.yaml", "--model_name_or_path", str(missing),
            "--dataset_paths", str(data), "--output_dir", str(tmp_path / "out")]
    with pytest.raises(ValueError) as info:
        step0.cli(argv)
    message = str(info.value)
    assert str(missing) in message and "no such file or folder" in message and "Repo id" not in message
