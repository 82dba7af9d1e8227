"""The builders on datatrove's executors: local with several workers, Ray, Slurm (scripts and a fake cluster).

Every executor must keep the same set as one local task, and put logs, stats and completion markers
in ``<work>/logs/<stage>/``. There is no Slurm here: the scripts are checked as generated (dry
run), and a fake ``sbatch``/``srun``/``squeue``/``scontrol`` runs the generated array jobs in place.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import dill
import pytest
from datatrove.executor.slurm import SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from dataset_builders.config import ConfigError, load_config
from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
from dataset_builders.pairs.build import PairsConfig, build_pairs
from dataset_builders.pipeline.stage import (
    ExecutorConfig,
    SlurmConfig,
    SlurmDryRun,
    StageIncomplete,
    run_stage,
)
from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import CLI, REPO, FailOnRank, load_rows

BUILDERS = {
    "pairs": (PairsConfig, build_pairs, REPO / "configs" / "data" / "pairs-tiny.yaml"),
    "interleaved": (InterleavedConfig, build_interleaved, REPO / "configs" / "data" / "interleaved-tiny.yaml"),
}


def content(kind: str, folder: Path) -> dict:
    rows, _ = load_rows(folder)
    if kind == "pairs":
        return {r["__key__"]: r["txt"] for r in rows}
    return {r["__key__"]: (r["json"]["texts"], r["json"]["image_positions"], r["json"]["image_urls"]) for r in rows}


def build(kind: str, corpus: Path, out: Path, *overrides: str) -> dict:
    cls, builder, tiny = BUILDERS[kind]
    return builder([corpus], out, load_config(cls, tiny, list(overrides)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from ja_vila.servers.image_server import ImageServer

    with ImageServer() as server:
        yield write_sample_corpus(tmp_path_factory.mktemp("corpus"), server.base_url, files=3)


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    """One local task per builder, built once for the module: (kept content, stats)."""
    done: dict[str, tuple[dict, dict]] = {}

    def get(kind: str) -> tuple[dict, dict]:
        if kind not in done:
            out = tmp_path_factory.mktemp("ref") / kind
            stats = build(kind, corpus, out, "executor.tasks=1")
            done[kind] = (content(kind, out), stats)
        return done[kind]

    return get


def assert_same_as_reference(kind: str, out: Path, stats: dict, reference) -> None:
    ref_content, ref_stats = reference(kind)
    assert len(ref_content) > 0
    assert content(kind, out) == ref_content
    assert stats["funnel"] == ref_stats["funnel"] and stats["samples"] == ref_stats["samples"]


def stage_dirs(work: Path) -> dict[str, int]:
    """Completion markers per stage directory under ``work/logs``."""
    return {d.name: len(list((d / "completions").glob("*"))) for d in sorted((work / "logs").iterdir())}


EXPECTED_STAGES = {"pairs": {"extract", "download", "score", "write"},
                   "interleaved": {"extract", "download", "score_and_write"}}


# -- config ----------------------------------------------------------------------------------------

def test_config_keys_and_errors():
    cfg = load_config(PairsConfig, None, [
        "executor.executor=slurm", "executor.tasks=8", "executor.slurm.partition=cpu",
        "executor.stage_resources={score: {gpus_per_task: 1, cpus_per_task: 8, partition: gpu}}",
    ])
    ex = cfg.executor
    assert ex.resources("extract").gpus_per_task == 0 and ex.resources("extract").partition == "cpu"
    score = ex.resources("score")
    assert (score.gpus_per_task, score.cpus_per_task, score.partition, score.mem_per_cpu_gb) == (1, 8, "gpu", 2.0)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(PairsConfig, None, ["executor.stage_resources={score: {gpu: 1}}"])
    with pytest.raises(ConfigError, match="partition"):
        load_config(PairsConfig, None, ["executor.executor=slurm"])
    with pytest.raises(ConfigError, match="unknown"):
        load_config(PairsConfig, None, ["executor.executor=dask"])


# -- local -----------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pairs", "interleaved"])
def test_local_three_tasks_two_workers_same_kept_set(kind, corpus, reference, tmp_path):
    # a fresh process: forked workers of a process that already ran torch (the reference build) can
    # hang in the scoring stage, so the multi-worker build runs through the CLI as a user runs it
    _, _, tiny = BUILDERS[kind]
    subprocess.run(CLI + ["build", kind, "--input", str(corpus), "--output", str(tmp_path / "out"), "--config",
                          str(tiny), "--tasks", "3", "--workers", "2"], cwd=REPO, check=True, timeout=600,
                   stdout=subprocess.DEVNULL)
    stats = json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8"))
    assert_same_as_reference(kind, tmp_path / "out", stats, reference)
    work = tmp_path / "out.work"
    assert stage_dirs(work) == dict.fromkeys(sorted(EXPECTED_STAGES[kind]), 3)
    assert all(len(list((work / "logs" / s / "stats").glob("*.json"))) == 3 for s in EXPECTED_STAGES[kind])


# -- Ray -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'ja-vila[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pairs", "interleaved"])
def test_ray_same_kept_set(kind, corpus, reference, ray_local, tmp_path):
    stats = build(kind, corpus, tmp_path / "out", "executor.executor=ray", "executor.tasks=3")
    assert_same_as_reference(kind, tmp_path / "out", stats, reference)
    work = tmp_path / "out.work"
    assert stage_dirs(work) == dict.fromkeys(sorted(EXPECTED_STAGES[kind]), 3)
    # Ray tasks log on their node and copy the log into the stage's folder
    assert len(list((work / "logs" / "extract" / "logs").glob("task_*.log"))) == 3
    # resume: a second run finds every task complete, runs nothing and gives the same result
    again = build(kind, corpus, tmp_path / "out", "executor.executor=ray", "executor.tasks=3")
    assert again["funnel"] == stats["funnel"]




@pytest.mark.slow
def test_ray_failed_task_raises_stage_incomplete(ray_local, tmp_path):
    # datatrove's Ray executor only logs failed tasks; the stage must not look finished
    ex = ExecutorConfig(executor="ray", tasks=2)
    with pytest.raises(StageIncomplete, match=r"1 of 2 task\(s\)"):
        run_stage("boom", [FailOnRank(1)], tmp_path, ex)
    assert (tmp_path / "logs" / "boom" / "completions" / "00000").is_file()


# -- Slurm: generated scripts ----------------------------------------------------------------------

def slurm_config(tasks: int = 4, **slurm) -> ExecutorConfig:
    return ExecutorConfig(
        executor="slurm", tasks=tasks,
        slurm=SlurmConfig(partition="cpu", time="02:00:00", qos="high", sbatch_args={"account": "proj"},
                          dry_run=True, **slurm),
        stage_resources={"score": {"gpus_per_task": 1, "cpus_per_task": 8, "mem_per_cpu_gb": 4, "partition": "gpu"}},
    )


def sbatch_lines(script: Path) -> dict[str, str]:
    return dict(line.removeprefix("#SBATCH --").partition("=")[::2]
                for line in script.read_text().splitlines() if line.startswith("#SBATCH --"))


class Nothing(PipelineStep):
    name = "nothing"

    def run(self, data, rank: int = 0, world_size: int = 1):
        yield from data or []


def test_slurm_dry_run_scripts_per_stage(tmp_path):
    ex = slurm_config(tasks=4)
    scripts = {}
    for stage in ("extract", "score"):
        with pytest.raises(SlurmDryRun) as info:
            run_stage(stage, [Nothing()], tmp_path, ex)
        assert info.value.script == tmp_path / "logs" / stage / "launch_script.slurm"
        scripts[stage] = info.value.script
    cpu, gpu = sbatch_lines(scripts["extract"]), sbatch_lines(scripts["score"])
    for lines in (cpu, gpu):
        assert lines["array"] == "0-3"  # array size = tasks
        assert lines["time"] == "02:00:00" and lines["qos"] == "high" and lines["account"] == "proj"
    assert (cpu["partition"], cpu["cpus-per-task"], cpu["mem-per-cpu"]) == ("cpu", "1", "2G")
    assert "gpus" not in cpu  # CPU stages never hold a GPU
    assert (gpu["partition"], gpu["cpus-per-task"], gpu["mem-per-cpu"], gpu["gpus"]) == ("gpu", "8", "4G", "1")
    assert cpu["job-name"] == "ja-vila-extract" and gpu["job-name"] == "ja-vila-score"
    # Slurm's own logs go to the stage's logging dir
    assert cpu["output"] == str(tmp_path / "logs" / "extract" / "slurm_logs" / "%A_%a.out")
    # the launch command runs the pickled executor of this stage, in this virtualenv
    text = scripts["extract"].read_text()
    assert f"launch_pickled_pipeline {tmp_path / 'logs' / 'extract' / 'executor.pik'}" in text
    assert f"source {Path(sys.prefix) / 'bin' / 'activate'}" in text
    with open(tmp_path / "logs" / "extract" / "executor.pik", "rb") as f:
        pickled = dill.load(f)
    assert isinstance(pickled, SlurmPipelineExecutor) and pickled.world_size == 4
    assert [type(s).__name__ for s in pickled.pipeline] == ["Nothing"]
    assert json.loads((tmp_path / "logs" / "extract" / "ranks_to_run.json").read_text()) == [0, 1, 2, 3]
    # one sbatch call per stage: no extra merge-stats job holding the stage's GPU
    calls = json.loads((tmp_path / "logs" / "score" / "sbatch_calls.json").read_text())
    assert len(calls) == 1


def test_slurm_dry_run_resumes_from_completion_markers(tmp_path):
    ex = slurm_config(tasks=4)
    done = tmp_path / "logs" / "extract" / "completions"
    done.mkdir(parents=True)
    for rank in (0, 2):
        (done / f"{rank:05d}").touch()
    with pytest.raises(SlurmDryRun) as info:
        run_stage("extract", [Nothing()], tmp_path, ex)
    assert sbatch_lines(info.value.script)["array"] == "0-1"  # only the two incomplete ranks
    assert json.loads((tmp_path / "logs" / "extract" / "ranks_to_run.json").read_text()) == [1, 3]
    for rank in (1, 3):
        (done / f"{rank:05d}").touch()
    (tmp_path / "logs" / "extract" / "stats").mkdir()
    run_stage("extract", [Nothing()], tmp_path, ex)  # complete: nothing submitted, the build goes on


def test_builder_slurm_dry_run_stops_after_writing_the_first_script(corpus, tmp_path):
    with pytest.raises(SlurmDryRun) as info:
        build("pairs", corpus, tmp_path / "out", "executor.executor=slurm", "executor.tasks=3",
              "executor.slurm.partition=cpu", "executor.slurm.dry_run=true",
              "executor.stage_resources={score: {gpus_per_task: 1}}")
    assert info.value.stage == "extract"
    lines = sbatch_lines(info.value.script)
    assert lines["array"] == "0-2" and lines["partition"] == "cpu" and "gpus" not in lines
    assert not (tmp_path / "out.work" / "logs" / "download").exists()


# -- Slurm: a fake cluster runs the generated jobs -------------------------------------------------

FAKE = {
    # runs every array task of the submitted script now, one after another, then answers like sbatch
    "sbatch": """#!/bin/bash
script="${@: -1}"
range=$(sed -n 's/^#SBATCH --array=\\([0-9]*\\)-\\([0-9]*\\).*/\\1 \\2/p' "$script")
echo "$@" >> "$FAKE_SLURM_DIR/sbatch_calls"
for i in $(seq $range); do
  SLURM_ARRAY_TASK_ID=$i RUN_OFFSET=0 SLURM_NODELIST=localhost bash "$script" >> "$FAKE_SLURM_DIR/jobs.log" 2>&1 || true
done
echo "Submitted batch job 4242"
""",
    "srun": """#!/bin/bash
while [ "$#" -gt 0 ] && [ "$1" != "launch_pickled_pipeline" ]; do shift; done
exec "$@"
""",
    "squeue": "#!/bin/bash\nexit 0\n",  # the job is gone (it ran inside sbatch)
    "scontrol": "#!/bin/bash\necho localhost\n",
}


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Path:
    bindir = tmp_path / "fake-slurm"
    bindir.mkdir()
    for name, text in FAKE.items():
        (bindir / name).write_text(text)
        (bindir / name).chmod((bindir / name).stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(bindir))
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the jobs unpickle steps defined in tests/
    return bindir


@pytest.mark.slow
def test_slurm_fake_cluster_same_kept_set(corpus, reference, fake_slurm, tmp_path):
    stats = build("pairs", corpus, tmp_path / "out", "executor.executor=slurm", "executor.tasks=3",
                  "executor.slurm.partition=cpu", "executor.slurm.poll_interval_s=0.1",
                  "executor.stage_resources={score: {gpus_per_task: 0, cpus_per_task: 2}}")
    assert_same_as_reference("pairs", tmp_path / "out", stats, reference)
    calls = (fake_slurm / "sbatch_calls").read_text().splitlines()
    assert len(calls) == 4  # one array job per stage, submitted one after another
    work = tmp_path / "out.work"
    assert stage_dirs(work) == dict.fromkeys(sorted(EXPECTED_STAGES["pairs"]), 3)
    assert json.loads((work / "logs" / "score" / "slurm_job.json").read_text()) == {"job_id": "4242"}
    # resume: everything complete, nothing submitted again
    build("pairs", corpus, tmp_path / "out", "executor.executor=slurm", "executor.tasks=3",
          "executor.slurm.partition=cpu", "executor.slurm.poll_interval_s=0.1")
    assert len((fake_slurm / "sbatch_calls").read_text().splitlines()) == 4


def test_slurm_failed_job_raises_stage_incomplete(fake_slurm, tmp_path):
    ex = ExecutorConfig(executor="slurm", tasks=2, slurm=SlurmConfig(partition="cpu", poll_interval_s=0.1))
    with pytest.raises(StageIncomplete, match=r"1 of 2 task\(s\)"):
        run_stage("boom", [FailOnRank(0)], tmp_path, ex)
    assert (tmp_path / "logs" / "boom" / "completions" / "00001").is_file()
