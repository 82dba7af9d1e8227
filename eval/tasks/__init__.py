"""The benchmark registry: one short file per task, looked up by name.

    from eval.tasks import get_task
    items = get_task("heron_bench").load("path/to/local/folder", limit=10)
"""

from __future__ import annotations

from dataset_builders.errors import UserInputError
from eval.tasks.base import EvalItem, Task, open_image
from eval.tasks.heron_bench import HeronBench
from eval.tasks.ja_vg_vqa_500 import JaVGVQA500
from eval.tasks.ja_vlm_bench_in_the_wild import JaVLMBenchInTheWild
from eval.tasks.textvqa import TextVQA, TextVQANoOCR

TASKS: dict[str, type[Task]] = {}


def register(task: type[Task]) -> type[Task]:
    """Add a task class under its ``name`` (usable as a decorator)."""
    if task.name in TASKS and TASKS[task.name] is not task:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


for _task in (HeronBench, JaVLMBenchInTheWild, JaVGVQA500, TextVQA, TextVQANoOCR):
    register(_task)


def get_task(name: str) -> Task:
    """A task by name; the error lists the known names."""
    try:
        return TASKS[name]()
    except KeyError:
        raise UserInputError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}") from None


__all__ = ["TASKS", "EvalItem", "Task", "get_task", "open_image", "register"]
