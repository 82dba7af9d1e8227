"""Reading datatrove's per-task stats into the build funnel.

Counter conventions of our steps (datatrove's filters already follow the first):

- documents: ``total`` in, ``forwarded`` kept, ``dropped_<reason>`` per drop;
- images inside documents: ``media_dropped_<reason>`` per drop, and ``media_kept`` (input = kept +
  drops) or ``media_total`` (kept = total - drops);
- file readers (datatrove's ``input_files`` counter marks them): datatrove's ``documents`` kept, and
  per record dropped ``skipped_<reason>``, ``bad_<reason>`` or ``record_error``; per file
  ``truncated`` or ``file_error`` (what was read before the fault is kept). They become the first
  stages: ``<reader> (files)`` (input files, by fault) and ``<reader>`` (records in, documents out).
- lines of extracted text (the extractor's boilerplate rules): ``lines_dropped_<reason>`` and
  ``lines_kept``, the same way.

Stats are read from the stage's ``<logging_dir>/stats/<rank>.json`` — one file per task, written when the task
completes — rather than the executor's merged ``stats.json``, which only covers the tasks that ran
in the last invocation (a resumed run skips completed ones).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dataset_builders.funnel import Funnel, StageCounts


def _count(value) -> int:
    return int(value["total"] if isinstance(value, dict) else value)


def _step_name(raw: str) -> str:
    return raw.split(":", 1)[-1].strip() if ":" in raw else raw


FILE_FAULTS = ("truncated", "file_error")


def _is_record_drop(key: str) -> bool:
    return key.startswith(("skipped_", "bad_")) or key == "record_error"


def _add_reader(task: Funnel, name: str, stats: dict) -> None:
    files = task.stage(f"{name} (files)")
    files.input += _count(stats["input_files"])
    for fault in FILE_FAULTS:
        if stats.get(fault):
            files.dropped[fault] += _count(stats[fault])
    files.kept = files.input - files.n_dropped
    records = task.stage(name)
    kept = _count(stats.get("documents", 0))
    drops = {k: _count(v) for k, v in stats.items() if _is_record_drop(k)}
    records.kept += kept
    records.input += kept + sum(drops.values())
    records.dropped.update(drops)


def funnel_from_stats(stats_dir: str | os.PathLike) -> Funnel:
    """Sum every task's datatrove stats in ``stats_dir`` into a funnel, steps in pipeline order."""
    funnel = Funnel()
    for path in sorted(Path(stats_dir).glob("*.json")):
        for step in json.loads(path.read_text(encoding="utf-8")):
            stats = step.get("stats", {})
            name = _step_name(step["name"])
            task = Funnel()
            if "input_files" in stats:
                _add_reader(task, name, stats)
            elif "total" in stats:
                s = task.stage(name)
                s.input = _count(stats["total"])
                s.kept = _count(stats.get("forwarded", 0))
                for k, v in stats.items():
                    if k.startswith("dropped_"):
                        s.dropped[k.removeprefix("dropped_")] += _count(v)
                # a filter without reasons still counts its drops
                unexplained = _count(stats.get("dropped", 0)) - s.n_dropped
                if unexplained > 0:
                    s.dropped["unspecified"] += unexplained
            for unit, label in (("media", "images"), ("lines", "lines")):
                drops = {k.removeprefix(f"{unit}_dropped_"): _count(v) for k, v in stats.items()
                         if k.startswith(f"{unit}_dropped_")}
                if f"{unit}_kept" in stats or f"{unit}_total" in stats or drops:
                    m = task.stage(f"{name} ({label})")
                    m.dropped.update(drops)
                    if f"{unit}_kept" in stats or f"{unit}_total" not in stats:  # drops only: nothing was kept
                        m.kept = _count(stats.get(f"{unit}_kept", 0))
                        m.input = m.kept + m.n_dropped
                    else:
                        m.input = _count(stats.get(f"{unit}_total", 0))
                        m.kept = m.input - m.n_dropped
            funnel = funnel + task
    return funnel


def merge_funnels(funnels: list[Funnel]) -> Funnel:
    """Stages of several pipeline stages one after another (stage names must differ)."""
    out = Funnel()
    for f in funnels:
        for s in f.stages:
            t = out.stage(s.name)
            t.input, t.kept = t.input + s.input, t.kept + s.kept
            t.dropped.update(s.dropped)
    return out


__all__ = ["StageCounts", "funnel_from_stats", "merge_funnels"]
