"""What a work folder was built with, so that a re-run continues exactly or refuses.

A build resumes from its work folder: completed tasks are skipped, corpus rules' rows are reused,
committed shards are kept. That is only right when the re-run asks for the same build. The first
run records ``<work>/manifest.json`` — the builder, the input files (size, mtime), the config that
decides the result, the number of tasks, any extra steps and the code version — and every later run
compares: same → continue; different → :class:`SettingsChanged`, one line naming what changed and
how to start over (``--restart``, i.e. :func:`discard_build`).

Executor settings that do not change the result (``workers``, the executor, resources, Slurm/Ray
options) are not compared, so a build started locally may continue on Slurm with more workers.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from dataset_builders.atomic import atomic_write_json
from dataset_builders.config import ConfigError
from dataset_builders.pipeline.build_lock import build_lock
from dataset_builders.pipeline.inputs import input_files
from dataset_builders.shard_writer import DATA_DIR, RANK_STATS_DIR

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: what a build writes into its output folder (and --restart removes; anything else there is left alone)
OUTPUT_ENTRIES = (DATA_DIR, RANK_STATS_DIR, "README.md", "stats.json")
RESTART_HINT = "re-run with the same settings, or add --restart to discard {work} and the output's shards and build again"


class SettingsChanged(ConfigError):
    """A re-run asks for another build than the one its work folder holds."""


def default_work_dir(output: str | os.PathLike) -> Path:
    """``OUTPUT.work`` beside the output folder."""
    output = Path(output)
    return output.with_name(output.name + ".work")


def code_version() -> str:
    """The installed ja-vila version, with the git commit when running from a checkout."""
    try:
        version = importlib.metadata.version("ja-vila")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return version
    return f"{version}+{out.stdout.strip()[:12]}" if out.returncode == 0 and out.stdout.strip() else version


def build_manifest(builder: str, inputs: list[str | os.PathLike], config: Any, extra_steps: list | None = None) -> dict:
    """The record of one build: compared key by key on every re-run."""
    settings = dataclasses.asdict(config)
    tasks = settings.pop("executor")["tasks"]
    return {
        "builder": builder,
        "code": code_version(),
        "tasks": tasks,
        "config": json.loads(json.dumps(settings, default=str)),
        "extra_steps": [type(s).__name__ for s in extra_steps or []],
        "inputs": {str(p): {"size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in input_files(inputs)},
    }


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value and prefix != "inputs":
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "…"


def changes(old: dict, new: dict) -> list[str]:
    """What differs between two manifests, one short phrase each (``tasks 3 → 2``)."""
    a, b = _flatten(old, ""), _flatten(new, "")
    out = []
    for key in sorted(set(a) | set(b), key=lambda k: (k != "tasks", k)):
        if a.get(key) == b.get(key):
            continue
        if key == "inputs":
            before, after = a.get(key) or {}, b.get(key) or {}
            moved = sorted(set(before) ^ set(after)) + sorted(p for p in set(before) & set(after) if before[p] != after[p])
            out.append(f"input files changed ({', '.join(Path(p).name for p in moved[:3])}{'…' if len(moved) > 3 else ''})")
        else:
            out.append(f"{key.removeprefix('config.')} {_short(a.get(key))} → {_short(b.get(key))}")
    return out


def check_manifest(work: str | os.PathLike, output: str | os.PathLike, manifest: dict) -> None:
    """Record ``manifest`` in a fresh work folder, or check a re-run against the recorded one."""
    work, output = Path(work), Path(output)
    path = work / MANIFEST
    if path.is_file() and (work / "logs").exists():  # before any stage ran there is nothing to protect
        diff = changes(json.loads(path.read_text(encoding="utf-8")), manifest)
        if diff:
            raise SettingsChanged(f"{work} holds a build with other settings ({'; '.join(diff[:4])}"
                                  f"{'; …' if len(diff) > 4 else ''}): {RESTART_HINT.format(work=work)}")
        logger.info("%s: same settings as the recorded build, continuing", work)
        return
    if not path.is_file() and ((work / "logs").exists() or any((output / DATA_DIR).glob("*.tar"))):
        raise SettingsChanged(f"{work if (work / 'logs').exists() else output} holds a build without a record of its "
                              f"settings: {RESTART_HINT.format(work=work)}")
    atomic_write_json(path, manifest)


def discard_build(output: str | os.PathLike, work: str | os.PathLike | None = None) -> None:
    """``--restart``: remove the work folder and what a build wrote into ``output`` (nothing else)."""
    output = Path(output)
    work = Path(work) if work else default_work_dir(output)
    if work.resolve() in (output.resolve(), *output.resolve().parents):
        raise ConfigError(f"--restart would remove {work}, which holds the output {output}; use another --work-dir")
    if not work.exists() and not output.exists():
        return
    with build_lock(work):  # never pull the folders from under a running build
        logger.info("--restart: removing %s", work)
        shutil.rmtree(work)
        for name in OUTPUT_ENTRIES:
            entry = output / name
            if entry.is_dir():
                shutil.rmtree(entry)
            elif entry.exists():
                entry.unlink()


__all__ = ["MANIFEST", "SettingsChanged", "build_manifest", "changes", "check_manifest", "default_work_dir",
           "discard_build"]
