"""From ``--input`` paths to datatrove readers: WARC/ARC files and JSONL corpora, files or folders.

Validation and reading agree: a file is input when its name ends (in any letter case) with one of
:data:`WARC_SUFFIXES` or :data:`JSONL_SUFFIXES`, and the readers are given exactly those files (one
case-insensitive glob per suffix). Anything else is refused up front (a file) or left out with a
warning (inside a folder). Readers shard their files over the tasks (file ``i`` goes to task
``i % tasks``) and pass on what earlier readers yielded, so several inputs chain into one stream.
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from dataset_builders.errors import InputNotFound, UserInputError
from dataset_builders.web.jsonl_reader import CorpusJsonlReader
from dataset_builders.web.warc_reader import WarcHtmlReader

logger = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")
_READERS = {**dict.fromkeys(WARC_SUFFIXES, WarcHtmlReader), **dict.fromkeys(JSONL_SUFFIXES, CorpusJsonlReader)}
_FORMATS = "WARC/ARC files (.warc, .warc.gz, .arc, .arc.gz) or JSONL corpora (.jsonl, .jsonl.gz), in any letter case"


def input_suffix(path: Path) -> str | None:
    """The accepted suffix ``path`` ends with (lower case), or None when no reader reads it."""
    name = path.name.lower()
    return next((s for s in _READERS if name.endswith(s)), None)  # no name ends with two of them


def case_insensitive_glob(suffix: str) -> str:
    """A datatrove/fsspec glob for every file under a folder whose name ends with ``suffix`` in any case."""
    return "**/*" + "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else glob.escape(c) for c in suffix)


def input_files(inputs: list[str | os.PathLike]) -> list[Path]:
    """The files ``inputs`` name, folders expanded (absolute, sorted): what a build's manifest records."""
    files: set[Path] = set()
    for raw in inputs:
        path = Path(raw).resolve()
        if path.is_dir():
            files.update(p for p in path.rglob("*") if p.is_file() and input_suffix(p))
        elif path.is_file():
            files.add(path)
    return sorted(files)


def readers_for(inputs: list[str | os.PathLike]) -> list[PipelineStep]:
    """One reader per input file, one per accepted suffix found in an input folder; a clear error for a
    missing path or an unknown format."""
    if not inputs:
        raise UserInputError(f"no --input given: pass {_FORMATS}, or folders of them")
    readers: list[PipelineStep] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found: dict[str, int] = {}
            for p in sorted(path.rglob("*")):
                if not p.is_file():
                    continue
                suffix = input_suffix(p)
                if suffix:
                    found[suffix] = found.get(suffix, 0) + 1
                elif any(k in p.name.lower() for k in (".warc", ".arc", ".jsonl")):
                    logger.warning("input folder %s: leaving out %s (unknown format; expected %s)", path, p, _FORMATS)
            if not found:
                raise UserInputError(f"input folder {path} holds no input files: expected {_FORMATS}")
            for suffix in _READERS:
                if suffix in found:
                    readers.append(_READERS[suffix](str(path), glob_pattern=case_insensitive_glob(suffix)))
        elif path.is_file():
            suffix = input_suffix(path)
            if suffix is None:
                raise UserInputError(f"input {path}: unknown format; expected {_FORMATS} (rename the file if it is one)")
            readers.append(_READERS[suffix](str(path.parent), glob_pattern=glob.escape(path.name)))
        else:
            raise InputNotFound(f"input {path} does not exist")
    return readers
