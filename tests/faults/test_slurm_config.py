"""Slurm time limits survive the config: ``12:00:00`` stays a string (YAML 1.1 reads it as the
base-60 integer 43200, which Slurm takes as minutes: 30 days), and a malformed time is a config
error naming the key and the accepted formats, not an sbatch rejection after the build started."""

from __future__ import annotations

import pytest

from dataset_builders.config import ConfigError, load_config
from dataset_builders.pairs.build import PairsConfig
from dataset_builders.pipeline.stage import SlurmDryRun, run_stage
from tests.test_executors import Nothing, sbatch_lines

SLURM = ["executor.executor=slurm", "executor.slurm.partition=cpu", "executor.slurm.dry_run=true"]


@pytest.mark.parametrize("value", ["12:00:00", "90", "30:00", "1-12", "1-12:30", "2-00:00:00"])
def test_set_time_keeps_the_slurm_string(value):
    cfg = load_config(PairsConfig, None, [*SLURM, f"executor.slurm.time={value}"])
    assert cfg.executor.slurm.time == value


def test_yaml_file_time_is_not_base_60(tmp_path):
    preset = tmp_path / "slurm.yaml"
    preset.write_text(
        "executor:\n  executor: slurm\n  slurm:\n    partition: cpu\n    time: 12:00:00\n"
        "  stage_resources:\n    score: {gpus_per_task: 1, time: 4:30:00}\n",
        encoding="utf-8",
    )
    ex = load_config(PairsConfig, preset).executor
    assert ex.slurm.time == "12:00:00"
    assert ex.resources("score").time == "4:30:00" and ex.resources("extract").time == "12:00:00"


def test_sbatch_script_carries_the_time_as_given(tmp_path):
    ex = load_config(PairsConfig, None, [*SLURM, "executor.slurm.time=12:00:00"]).executor
    with pytest.raises(SlurmDryRun) as info:
        run_stage("extract", [Nothing()], tmp_path, ex)
    assert sbatch_lines(info.value.script)["time"] == "12:00:00"


@pytest.mark.parametrize("value", ["12h", "1:2:3:4", "12:75:00", "1-", "-1", "1-25:00", "tomorrow", "1.5"])
def test_bad_time_is_a_config_error_naming_the_key_and_formats(value):
    with pytest.raises(ConfigError) as info:
        load_config(PairsConfig, None, [*SLURM, f"executor.slurm.time={value}"])
    message = str(info.value)
    assert "executor.slurm" in message and "time=" in message and "D-HH:MM:SS" in message


def test_bad_stage_time_names_the_stage():
    with pytest.raises(ConfigError, match=r"stage_resources\.score: time="):
        load_config(PairsConfig, None, [*SLURM, "executor.stage_resources={score: {time: 5 hours}}"])
