"""Running one stage of a build (a list of datatrove steps) on an executor.

A build is a few stages chained through files: CPU work (read, filter, download) per task,
a corpus-wide merge, then GPU work (scoring) and the final write. Each stage logs, counts and
marks completed tasks under ``<work_dir>/logs/<stage>/``, so a killed build re-runs only what
did not finish (datatrove's completion markers), and the funnel is read back from there.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.base import PipelineStep

from dataset_builders.funnel import Funnel
from dataset_builders.pipeline.stats_funnel import stage_funnel

logger = logging.getLogger(__name__)


@dataclass
class ExecutorConfig:
    """Where and how wide stages run. ``tasks`` shards the work; ``workers`` run at once."""

    executor: str = "local"
    tasks: int = 1
    workers: int = 1

    def __post_init__(self) -> None:
        if self.executor != "local":
            raise ValueError(f"executor {self.executor!r} is not available yet; use 'local'")
        if self.tasks < 1 or self.workers < 1:
            raise ValueError(f"tasks ({self.tasks}) and workers ({self.workers}) must be >= 1")


def run_stage(
    name: str, pipeline: list[PipelineStep], work_dir: str | os.PathLike, executor: ExecutorConfig
) -> Funnel:
    """Run ``pipeline`` over ``executor.tasks`` tasks (completed tasks are skipped); return its funnel."""
    logging_dir = Path(work_dir) / "logs" / name
    logger.info("stage %s: %d task(s), %d worker(s)", name, executor.tasks, executor.workers)
    LocalPipelineExecutor(
        pipeline,
        tasks=executor.tasks,
        workers=min(executor.workers, executor.tasks),
        logging_dir=str(logging_dir),
        start_method="fork",
    ).run()
    return stage_funnel(work_dir, name)
