"""What every benchmark task shares: the item the runner sees, where rows come from (the Hub by
default, or a local folder in the same schema), and how images are opened.

A local folder holds the Hub rows as JSON Lines (``*.jsonl``, read in name order) or Parquet files,
with ``image`` given as a path relative to the folder (``images/001.jpg``), an absolute path, or
``{"bytes": ..., "path": ...}`` as ``datasets`` stores it. Tasks may accept their upstream layouts
too (Heron-Bench's ``questions_ja.jsonl``, TextVQA's official JSON); each task file says which.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from dataset_builders.errors import InputNotFound, UserInputError, looks_like_path

logger = logging.getLogger(__name__)

#: A file in a local task folder marking its rows as fixture data (the demo's, the tests'); its first
#: line names them in short, the rest may explain. Reports say so beside every number and keep them
#: out of ``model-index``.
FIXTURE_MARKER = "JA_VILA_FIXTURE"


def fixture_note(folder: str | Path) -> str | None:
    """What a fixture folder says about itself (None: not marked as fixture data)."""
    marker = Path(folder).expanduser() / FIXTURE_MARKER
    if not marker.is_file():
        return None
    return marker.read_text(encoding="utf-8").strip().splitlines()[0] if marker.stat().st_size else "fixture"


@dataclass
class EvalItem:
    """One question for the model.

    ``prompt`` is the text the model sees (the question plus any task instruction); ``question`` is
    the bare question the judge and the reports show. ``image`` stays encoded (bytes or a path) until
    the runner needs it, so a 5,000-question task does not hold 5,000 decoded pictures.
    """

    id: str
    question: str
    prompt: str
    image: Any
    reference: str = ""
    answers: list[str] = field(default_factory=list)
    category: str | None = None
    context: str | None = None


def open_image(ref: Any) -> Image.Image:
    """An RGB PIL image from a path, bytes, a ``{"bytes", "path"}`` dict or a PIL image."""
    if isinstance(ref, Image.Image):
        return ref.convert("RGB")
    if isinstance(ref, dict):
        ref = ref.get("bytes") or ref.get("path")
    if isinstance(ref, (bytes, bytearray)):
        with Image.open(io.BytesIO(ref)) as im:
            return im.convert("RGB")
    if isinstance(ref, (str, Path)):
        with Image.open(ref) as im:
            return im.convert("RGB")
    raise UserInputError(f"cannot open an image from {type(ref).__name__}")


def resolve_image(value: Any, folder: Path | None, row_id: str) -> Any:
    """A row's ``image`` value made usable: relative paths resolved against the folder (or its images/)."""
    if isinstance(value, dict) and not value.get("bytes") and value.get("path"):
        value = value["path"]
    if isinstance(value, str):
        path = Path(value)
        candidates = [path] if path.is_absolute() or folder is None else [folder / path, folder / "images" / path]
        for c in candidates:
            if c.is_file():
                return c
        raise InputNotFound(f"item {row_id}: image {value!r} not found (looked for {', '.join(map(str, candidates))}); "
                            "put the images beside the rows or give absolute paths")
    if value is None:
        raise UserInputError(f"item {row_id} has no image")
    return value


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as e:
                    raise UserInputError(f"{path}:{n}: not JSON ({e})") from e


def rows_from_folder(folder: Path) -> Iterator[dict[str, Any]]:
    """Rows of a local task folder: every ``*.jsonl`` (name order), else every ``*.parquet``."""
    jsonl = sorted(folder.glob("*.jsonl"))
    if jsonl:
        for path in jsonl:
            yield from read_jsonl(path)
        return
    parquet = sorted(folder.glob("*.parquet")) or sorted(folder.glob("**/*.parquet"))
    if parquet:
        import datasets

        ds = datasets.load_dataset("parquet", data_files=[str(p) for p in parquet], split="train")
        yield from _undecoded(ds)
        return
    raise InputNotFound(f"{folder}: no *.jsonl or *.parquet rows; see eval/tasks/base.py for the folder layout")


def _looks_like_hub_id(source: str) -> bool:
    return source.count("/") == 1 and not looks_like_path(source) and not Path(source).exists()


def _undecoded(ds: Any) -> Iterator[dict[str, Any]]:
    import datasets

    if "image" in ds.column_names and isinstance(ds.features["image"], datasets.Image):
        ds = ds.cast_column("image", datasets.Image(decode=False))
    yield from ds


class Task:
    """A benchmark: its Hub source, its metrics, and how a row becomes :class:`EvalItem` (s)."""

    name: ClassVar[str]
    title: ClassVar[str]
    hub_id: ClassVar[str]
    hub_split: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]
    max_new_tokens: ClassVar[int] = 256
    #: items of the whole benchmark (None: not fixed); a run with fewer is not a benchmark result
    full_size: ClassVar[int | None] = None
    task_type: ClassVar[str] = "visual-question-answering"
    task_label: ClassVar[str] = "Visual Question Answering"

    def load(self, source: str | Path | None = None, limit: int | None = None) -> list[EvalItem]:
        """Items from ``source`` (a local folder, or a Hub dataset id; default :attr:`hub_id`)."""
        source = source if source is not None else self.hub_id
        folder = Path(source).expanduser()
        if folder.is_dir():
            rows, base = self.rows_from_folder(folder), folder
        elif _looks_like_hub_id(str(source)):
            rows, base = self.rows_from_hub(str(source)), None
        else:
            raise InputNotFound(f"{self.name}: {source} is not a folder; give a local folder in the task's "
                                f"schema or a Hub dataset id such as {self.hub_id}")
        items: list[EvalItem] = []
        for index, row in enumerate(rows):
            items.extend(self.items_from_row(row, index, base))
            if limit is not None and len(items) >= limit:
                return items[:limit]
        if not items:
            raise UserInputError(f"{self.name}: {source} has no items")
        return items

    def rows_from_hub(self, repo_id: str) -> Iterable[dict[str, Any]]:
        """Rows of the Hub dataset (downloads; never called in tests)."""
        import datasets

        logger.info("%s: loading %s (split %s) from the Hub", self.name, repo_id, self.hub_split)
        return _undecoded(datasets.load_dataset(repo_id, split=self.hub_split))

    def rows_from_folder(self, folder: Path) -> Iterable[dict[str, Any]]:
        return rows_from_folder(folder)

    def items_from_row(self, row: dict[str, Any], index: int, folder: Path | None) -> list[EvalItem]:
        raise NotImplementedError
