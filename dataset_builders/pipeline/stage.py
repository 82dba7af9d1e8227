"""Running one stage of a build (a list of datatrove steps) on an executor: local, Slurm or Ray.

A build is a few stages chained through files: CPU work (read, filter, download) per task,
a corpus-wide merge, then GPU work (scoring) and the final write. Each stage logs, counts and
marks completed tasks under ``<work_dir>/logs/<stage>/``, so a killed build re-runs only what
did not finish (datatrove's completion markers), and the funnel is read back from there — the
same on every executor.

Executors (``ExecutorConfig.executor``):

- ``local``: datatrove's ``LocalPipelineExecutor``, ``workers`` processes on this machine.
- ``slurm``: datatrove's ``SlurmPipelineExecutor``, one array job per stage (array size = tasks).
  The driver (the ``ja-vila build`` process, on a login node) submits a stage, **waits** until every
  task's completion marker exists, runs the corpus-wide merge itself, then submits the next stage.
  We chose this over chaining jobs with ``depends=``: the merges decide what the next stage's
  pipeline is (skipped domains, frequency drops, score thresholds), so it cannot be pickled before
  the previous stage has finished; the merges are small (they read per-task summaries) and run in
  seconds in the driver. The work dir must be on a filesystem shared by the driver and the nodes.
  ``slurm.dry_run`` writes the stage's sbatch script (``logs/<stage>/launch_script.slurm``) and
  pickled executor without submitting, and stops the build (:class:`SlurmDryRun`).
- ``ray``: datatrove's ``RayPipelineExecutor`` on a Ray cluster (``ray.address``; an already
  initialised Ray is used as is). Needs ``pip install 'ja-vila[ray]'``.

Resources are per stage: ``cpus_per_task`` / ``gpus_per_task`` / ``mem_per_cpu_gb`` are defaults,
``stage_resources: {score: {gpus_per_task: 1}}`` overrides them for one stage, so the CPU stages
(extract, download) never hold a GPU and the GPU stage gets one per task.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time
from copy import deepcopy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import dill
import multiprocess.util
from datatrove.executor import LocalPipelineExecutor
from datatrove.executor.base import PipelineExecutor
from datatrove.executor.slurm import SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from dataset_builders.errors import cannot_write
from dataset_builders.funnel import Funnel
from dataset_builders.pipeline.die_with_parent import die_with_parent
from dataset_builders.pipeline.slurm_time import slurm_time
from dataset_builders.pipeline.stats_funnel import funnel_from_stats

logger = logging.getLogger(__name__)

EXECUTORS = ("local", "slurm", "ray")


class StageIncomplete(RuntimeError):
    """A stage ended with tasks that never wrote their completion marker (see the stage's logs)."""


class SlurmDryRun(RuntimeError):
    """``slurm.dry_run``: a stage's sbatch script was written and not submitted; the build stops here
    because the next stages depend on this stage's output."""

    def __init__(self, stage: str, script: Path):
        self.stage, self.script = stage, script
        super().__init__(
            f"dry run: sbatch script for stage {stage!r} written to {script} (not submitted); later stages "
            "depend on its output, so the build stops here. Set executor.slurm.dry_run=false to submit."
        )


@dataclass
class StageResources:
    """What one task of one stage holds; unset fields fall back to the ExecutorConfig defaults.
    ``time`` and ``partition`` are Slurm's; ``workers`` caps the tasks running at once."""

    cpus_per_task: int | None = None
    gpus_per_task: int | None = None
    mem_per_cpu_gb: float | None = None
    time: str | None = None
    partition: str | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        self.time = None if self.time is None else slurm_time(self.time)


@dataclass
class SlurmConfig:
    """Slurm settings shared by all stages (``partition``/``time`` can be overridden per stage)."""

    partition: str | None = None
    time: str = "24:00:00"
    qos: str | None = None
    sbatch_args: dict[str, Any] = field(default_factory=dict)  # e.g. {account: proj, constraint: a100}
    env_command: str | None = None  # default: activate the virtualenv the driver runs in
    job_name: str = "ja-vila"  # jobs are named <job_name>-<stage>
    max_array_size: int = 1001  # the cluster's MaxArraySize; datatrove splits larger arrays
    poll_interval_s: float = 60.0
    dry_run: bool = False

    def __post_init__(self) -> None:
        self.time = slurm_time(self.time)


@dataclass
class RayConfig:
    """Ray settings. ``address: auto`` joins the cluster this machine belongs to; ``null`` starts a local
    Ray instance (unless ``ray.init`` was already called, e.g. by a test or a notebook)."""

    address: str | None = None


@dataclass
class ExecutorConfig:
    """Where and how wide stages run. ``tasks`` shards the work (same result for any number);
    ``workers`` caps the tasks running at once (default: 1 locally, no cap on Slurm / Ray)."""

    executor: str = "local"
    tasks: int = 1
    workers: int | None = None
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    mem_per_cpu_gb: float = 2.0
    stage_resources: dict[str, StageResources] = field(default_factory=dict)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    ray: RayConfig = field(default_factory=RayConfig)

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"executor {self.executor!r} is unknown; use one of {', '.join(EXECUTORS)}")
        if self.tasks < 1 or (self.workers is not None and self.workers < 1):
            raise ValueError(f"tasks ({self.tasks}) and workers ({self.workers}) must be >= 1")
        if isinstance(self.slurm, dict):
            self.slurm = _from_dict(SlurmConfig, self.slurm, "executor.slurm")
        if isinstance(self.ray, dict):
            self.ray = _from_dict(RayConfig, self.ray, "executor.ray")
        self.stage_resources = {
            str(stage): r if isinstance(r, StageResources) else _from_dict(StageResources, r, f"executor.stage_resources.{stage}")
            for stage, r in (self.stage_resources or {}).items()
        }
        if self.executor == "slurm" and not self.slurm.partition:
            raise ValueError("executor 'slurm' needs a partition: set executor.slurm.partition=NAME")

    def resources(self, stage: str) -> StageResources:
        """The resolved resources of ``stage`` (its ``stage_resources`` entry over the defaults)."""
        own = self.stage_resources.get(stage, StageResources())
        default = StageResources(self.cpus_per_task, self.gpus_per_task, self.mem_per_cpu_gb,
                                 self.slurm.time, self.slurm.partition, self.workers)
        return StageResources(**{f.name: _first(getattr(own, f.name), getattr(default, f.name)) for f in fields(StageResources)})


def _first(a, b):
    return a if a is not None else b


def _from_dict(cls, data, where: str):
    from dataset_builders.config import from_dict  # config.py does not import this module; lazy anyway

    return from_dict(cls, data, where)


def _venv_activate() -> str | None:
    activate = Path(sys.prefix) / "bin" / "activate"
    return f"source {activate}" if sys.prefix != sys.base_prefix and activate.is_file() else None


def build_executor(
    name: str, pipeline: list[PipelineStep], work_dir: str | os.PathLike, executor: ExecutorConfig
) -> PipelineExecutor:
    """The datatrove executor that runs stage ``name`` (logs, stats, completion markers in ``<work>/logs/<name>``)."""
    logging_dir = str((Path(work_dir) / "logs" / name).resolve())
    res = executor.resources(name)
    if executor.executor == "local":
        return _LocalExecutor(
            pipeline, tasks=executor.tasks, workers=min(res.workers or 1, executor.tasks),
            logging_dir=logging_dir, start_method="fork",
        )
    if executor.executor == "ray":
        from datatrove.executor.ray import RayPipelineExecutor

        return RayPipelineExecutor(
            pipeline, tasks=executor.tasks, workers=res.workers or -1, logging_dir=logging_dir,
            cpus_per_task=res.cpus_per_task, gpus_per_task=res.gpus_per_task, mem_per_cpu_gb=res.mem_per_cpu_gb,
        )
    slurm = executor.slurm
    if not res.partition:
        raise ValueError(f"stage {name!r} has no Slurm partition: set executor.slurm.partition or its stage_resources")
    mem = res.mem_per_cpu_gb
    sbatch_args = dict(slurm.sbatch_args)
    if float(mem) != int(mem):  # sbatch wants an integer with a unit
        sbatch_args.setdefault("mem-per-cpu", f"{round(mem * 1024)}M")
    return (_SlurmDryRunExecutor if slurm.dry_run else _SlurmExecutor)(
        pipeline, tasks=executor.tasks, time=res.time, partition=res.partition,
        cpus_per_task=res.cpus_per_task, mem_per_cpu_gb=int(mem), gpus_per_task=res.gpus_per_task,
        workers=res.workers or -1, job_name=f"{slurm.job_name}-{name}", qos=slurm.qos or "",
        env_command=slurm.env_command or _venv_activate(), sbatch_args=sbatch_args,
        max_array_size=slurm.max_array_size, logging_dir=logging_dir,
        slurm_logs_folder=str(Path(logging_dir) / "slurm_logs"), mail_type="NONE",
    )


class _LocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor whose forked processes (task workers, the queue manager) die with the
    driver (:func:`die_with_parent`): a killed driver leaves no worker writing into the work folder."""

    def run(self):
        driver = os.getpid()  # multiprocess runs the hook first thing in every process it forks
        multiprocess.util.register_after_fork(self, lambda _executor: die_with_parent(driver))
        return super().run()


def _incomplete(dt: PipelineExecutor) -> list[int]:
    """Ranks without datatrove's completion marker, asked of the executor (its own layout, its own check)."""
    return dt.get_incomplete_ranks(skip_completed=True)


def run_stage(
    name: str, pipeline: list[PipelineStep], work_dir: str | os.PathLike, executor: ExecutorConfig
) -> Funnel:
    """Run ``pipeline`` over ``executor.tasks`` tasks (completed tasks are skipped) and wait until every
    task has completed; return the stage's funnel. Raises :class:`StageIncomplete` when tasks failed."""
    dt = build_executor(name, pipeline, work_dir, executor)
    logging_dir = Path(dt.logging_dir.path)
    todo = _incomplete(dt)
    res = executor.resources(name)
    logger.info("stage %s on %s: %d task(s), %d to run, %s cpu / %s gpu per task", name, executor.executor,
                executor.tasks, len(todo), res.cpus_per_task, res.gpus_per_task)
    try:
        if todo:
            if executor.executor == "slurm":
                _run_slurm(dt, name, logging_dir, executor.slurm)
            elif executor.executor == "ray":
                _run_ray(dt, executor.ray)
            else:
                dt.run()
    except OSError as e:  # disk full, read-only: one line naming the file and the fix; anything else is a bug
        if (err := cannot_write(e)) is None:
            raise
        raise err from e
    left = _incomplete(dt)
    if left:
        raise StageIncomplete(
            f"stage {name!r}: {len(left)} of {executor.tasks} task(s) did not complete (ranks {left[:10]}"
            f"{'…' if len(left) > 10 else ''}); see {logging_dir}/logs/. "
            "Re-run the same command to retry only those."
        )
    return funnel_from_stats(logging_dir / "stats")


# -- Ray -----------------------------------------------------------------------------------------

def _run_ray(dt: PipelineExecutor, cfg: RayConfig) -> None:
    try:
        import ray
    except ImportError as e:
        raise ImportError("executor 'ray' needs Ray: pip install 'ja-vila[ray]'") from e
    if not ray.is_initialized():
        ray.init(address=cfg.address)
    dt.run()


# -- Slurm ---------------------------------------------------------------------------------------

class _SlurmExecutor(SlurmPipelineExecutor):
    """datatrove's Slurm executor without its extra merge-stats job: the driver reads the per-task
    stats itself, and that job would otherwise hold the stage's resources (a GPU) to merge JSON."""

    def launch_merge_stats(self) -> None:
        return None


class _SlurmDryRunExecutor(_SlurmExecutor):
    """``slurm.dry_run``: :meth:`launch_job` writes what a submission needs — the pickled executor,
    ``ranks_to_run.json`` and the sbatch script, from datatrove's own ``get_sbatch_args`` and
    ``get_launch_file_contents`` — and the ``sbatch`` command lines to ``sbatch_calls.json``, without
    running them. The pickled executor runs the tasks like a normal one when the script is submitted."""

    def launch_job(self) -> None:
        ranks = self.get_incomplete_ranks()
        if not ranks:
            self.job_id = -1
            return
        with self.logging_dir.open("executor.pik", "wb") as f:
            dill.dump(deepcopy(self), f, fmode=dill.CONTENTS_FMODE)
        self.save_executor_as_json()
        with self.logging_dir.open("ranks_to_run.json", "w") as f:
            json.dump(ranks, f)
        jobs = math.ceil(len(ranks) / self.tasks_per_job)
        max_array = min(jobs, self.max_array_size) if self.max_array_size != -1 else jobs
        pickled = self.logging_dir.resolve_paths("executor.pik")
        script = self.get_launch_file_contents(
            self.get_sbatch_args(max_array), f"srun -l -n {self.nodes_per_task} launch_pickled_pipeline {pickled}"
        )
        with self.logging_dir.open("launch_script.slurm", "w") as f:
            f.write(script)
        script_path = self.logging_dir.resolve_paths("launch_script.slurm")
        calls = [{"args": [f"--export=ALL,RUN_OFFSET={i}"], "script": script_path} for i in range(math.ceil(jobs / max_array))]
        with self.logging_dir.open("sbatch_calls.json", "w") as f:
            json.dump(calls, f, indent=1)
        self.job_id = "dry-run"


def _run_slurm(dt, name: str, logging_dir: Path, cfg: SlurmConfig) -> None:
    if cfg.dry_run:
        dt.launch_job()
        if dt.job_id == -1:  # nothing to run: the stage is complete, the build goes on
            return
        raise SlurmDryRun(name, logging_dir / "launch_script.slurm")
    record = logging_dir / "slurm_job.json"
    job_id = json.loads(record.read_text())["job_id"] if record.is_file() else None
    if job_id is not None and _slurm_job_active(job_id):
        # a driver killed while waiting: wait on the job it submitted rather than run the tasks twice
        logger.info("stage %s: Slurm job %s from an earlier run is still queued/running; waiting on it", name, job_id)
    else:
        dt.launch_job()
        job_id = dt.job_id
        if job_id in (None, -1):  # every task already complete
            return
        logging_dir.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"job_id": str(job_id)}))
        logger.info("stage %s: submitted Slurm job %s (%s)", name, job_id, logging_dir / "launch_script.slurm")
    while _incomplete(dt):
        if not _slurm_job_active(job_id):
            time.sleep(min(cfg.poll_interval_s, 10.0))  # markers on a shared filesystem may show up late
            return
        time.sleep(cfg.poll_interval_s)


def _slurm_job_active(job_id: str) -> bool:
    """Whether Slurm still knows job ``job_id`` as pending/running (``squeue`` lists it)."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%T"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError as e:
        raise RuntimeError("executor 'slurm' needs the Slurm commands (sbatch, squeue) on PATH") from e
    return out.returncode == 0 and bool(out.stdout.strip())


__all__ = [
    "EXECUTORS", "ExecutorConfig", "RayConfig", "SlurmConfig", "SlurmDryRun", "StageIncomplete", "StageResources",
    "build_executor", "run_stage",
]
