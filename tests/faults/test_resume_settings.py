"""Resume with other settings (issue 16 item 1): the work folder records what it was built with, and a
re-run either continues exactly or refuses with one line naming the change and how to start over."""

from __future__ import annotations

import json
import math
import subprocess
import tarfile

import pytest

from dataset_builders.config import load_config
from dataset_builders.pairs.build import PairsConfig, build_pairs
from dataset_builders.pipeline.manifest import (
    MANIFEST,
    SettingsChanged,
    build_manifest,
    check_manifest,
    discard_build,
)
from dataset_builders.pipeline.stage import StageIncomplete
from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import CLI, REPO, FailOnRank

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"


def config(*overrides: str) -> PairsConfig:
    return load_config(PairsConfig, TINY, list(overrides))


def kept(folder) -> dict[str, str]:
    """Key → alt text of every sample in the shards (read directly: ``datasets`` caches a folder it has
    loaded before, and these tests rebuild the same folder)."""
    out = {}
    for shard in sorted((folder / "data").glob("*.tar")):
        with tarfile.open(shard) as tf:
            for member in tf:
                if member.name.endswith(".txt"):
                    out[member.name.removesuffix(".txt")] = tf.extractfile(member).read().decode("utf-8")
    return out


def test_finished_build_refuses_other_tasks_or_drop_fraction_and_restarts_clean(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    out = tmp_path / "out"
    first = build_pairs([corpus], out, config("executor.tasks=3"))
    before = kept(out)
    with pytest.raises(SettingsChanged, match=r"tasks 3 → 2.*--restart"):
        build_pairs([corpus], out, config("executor.tasks=2"))
    with pytest.raises(SettingsChanged, match=r"drop_fraction 0\.3 → 0\.5.*--restart"):
        build_pairs([corpus], out, config("executor.tasks=3", "drop_fraction=0.5"))
    assert kept(out) == before  # a refused re-run touches nothing
    # settings that do not change the result may change: the build continues exactly
    again = build_pairs([corpus], out, config("executor.tasks=3", "executor.workers=2"))
    assert again["funnel"] == first["funnel"] and kept(out) == before
    # --restart: a clean build with the new settings, whose cut and card agree
    discard_build(out)
    redone = build_pairs([corpus], out, config("executor.tasks=2", "drop_fraction=0.5"))
    cut = {s["stage"]: s for s in redone["funnel"]}["✂️ CLIP bottom-50% cut"]
    assert cut["dropped"]["low_clip_score"] == math.floor(0.5 * cut["input"])
    assert redone["samples"] == cut["kept"] == len(kept(out)) < len(before)
    assert "bottom 50%" in (out / "README.md").read_text(encoding="utf-8")




def test_interrupted_build_refuses_other_tasks_on_the_command_line(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    out = tmp_path / "out"
    # rank 1 of 3 dies in the first stage and takes the (one-worker) driver with it, as a kill would
    with pytest.raises((StageIncomplete, RuntimeError), match="task dies|did not complete"):
        build_pairs([corpus], out, config("executor.tasks=3"), extra_text_steps=[FailOnRank(1)])
    done = sorted(p.name for p in (tmp_path / "out.work" / "logs" / "extract" / "completions").iterdir())
    assert "00000" in done and "00001" not in done
    args = ["build", "pairs", "--input", str(corpus), "--output", str(out), "--config", str(TINY)]
    refused = subprocess.run(CLI + args + ["--tasks", "2"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2
    error = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "tasks 3 → 2" in error[0] and "--restart" in error[0]
    assert not (out / "data").exists()
    subprocess.run(CLI + args + ["--tasks", "2", "--restart"], cwd=REPO, check=True, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    assert stats["samples"] == len(kept(out)) > 0
    assert json.loads((tmp_path / "out.work" / MANIFEST).read_text(encoding="utf-8"))["tasks"] == 2


def test_changed_input_file_or_unrecorded_work_dir_refuses(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "a.jsonl").write_text('{"url": "https://e.jp/", "html": "<p>x</p>"}\n', encoding="utf-8")
    work, out = tmp_path / "work", tmp_path / "out"
    check_manifest(work, out, build_manifest("pairs", [inputs], config()))
    (work / "logs").mkdir()  # a stage ran
    check_manifest(work, out, build_manifest("pairs", [inputs], config()))  # same: continue
    (inputs / "a.jsonl").write_text('{"url": "https://e.jp/", "html": "<p>changed</p>"}\n', encoding="utf-8")
    with pytest.raises(SettingsChanged, match=r"input files changed \(a\.jsonl\)"):
        check_manifest(work, out, build_manifest("pairs", [inputs], config()))
    (work / MANIFEST).unlink()  # a work dir of a build that recorded nothing
    with pytest.raises(SettingsChanged, match="without a record"):
        check_manifest(work, out, build_manifest("pairs", [inputs], config()))
    with pytest.raises(ValueError, match="holds the output"):
        discard_build(out, tmp_path)
