"""From ``--input`` paths to datatrove readers: WARC files and JSONL corpora, files or folders.

Readers shard their files over the tasks (file ``i`` goes to task ``i % tasks``) and pass on what
earlier readers yielded, so several inputs chain into one stream.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from dataset_builders.web.jsonl_reader import JSONL_GLOB, CorpusJsonlReader
from dataset_builders.web.warc_reader import WARC_GLOB, WarcHtmlReader

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(WARC_SUFFIXES):
        return "warc"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return None


def input_files(inputs: list[str | os.PathLike]) -> list[Path]:
    """The files ``inputs`` name, folders expanded (absolute, sorted): what a build's manifest records."""
    files: set[Path] = set()
    for raw in inputs:
        path = Path(raw).resolve()
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file() and _kind(p))
        elif path.is_file():
            files.add(path)
    return sorted(files)


def readers_for(inputs: list[str | os.PathLike]) -> list[PipelineStep]:
    """One reader per input path; a clear error for a missing path or an unknown format."""
    if not inputs:
        raise ValueError("no --input given: pass WARC files (.warc, .warc.gz), JSONL corpora (.jsonl[.gz]) or folders of them")
    readers: list[PipelineStep] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            warcs = [p for p in path.rglob("*") if _kind(p) == "warc"]
            jsonls = [p for p in path.rglob("*") if _kind(p) == "jsonl"]
            if warcs:
                readers.append(WarcHtmlReader(str(path), glob_pattern=WARC_GLOB))
            if jsonls:
                readers.append(CorpusJsonlReader(str(path), glob_pattern=JSONL_GLOB))
            if not warcs and not jsonls:
                raise ValueError(f"input folder {path} holds no .warc[.gz] or .jsonl[.gz] files")
        elif path.is_file():
            kind = _kind(path)
            reader = {"warc": WarcHtmlReader, "jsonl": CorpusJsonlReader}.get(kind or "")
            if reader is None:
                raise ValueError(
                    f"input {path}: unknown format; expected {', '.join(WARC_SUFFIXES + JSONL_SUFFIXES)}"
                )
            readers.append(reader(str(path.parent), glob_pattern=glob.escape(path.name)))
        else:
            raise ValueError(f"input {path} does not exist")
    return readers
