"""Corpus JSONL (``.jsonl`` / ``.jsonl.gz``) → Documents: one page per line.

A record has ``url`` and either ``html`` (a raw page, extracted later by ``HtmlExtractor``) or
``text`` (already plain text) with optional ``images: [{"url", "alt"}]`` in page order; optional
``id``, ``title``, ``date`` and any other keys (kept in ``metadata``). ``html`` wins when both are
present. Bad lines are counted (``bad_json``, ``bad_record``) and logged, never fatal. A file that
ends early (a cut ``.gz``: ``truncated``) or cannot be decompressed (``file_error``) keeps the lines
read before the fault, logs a warning naming it, and the next file is read. Files are sharded by
rank/world_size by datatrove's ``BaseDiskReader``.
Provenance in ``metadata``: ``source_file`` (relative to the input folder) and ``source_line``
(1-based); each image of a ``text`` record gets ``image_index``, its position in ``images``.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator

from datatrove.data import Document, DocumentsPipeline, Media, MediaType
from datatrove.io import DataFileLike, DataFolderLike
from datatrove.pipeline.readers.base import BaseDiskReader

from dataset_builders.keys import make_key

logger = logging.getLogger(__name__)

JSONL_GLOB = "**/*.jsonl*"


def record_to_document(rec: dict, fallback_id: str) -> Document:
    """A corpus record as a Document; raises ``ValueError`` naming what is missing."""
    if not isinstance(rec, dict):
        raise ValueError("record is not a JSON object")
    url = rec.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("record has no 'url'")
    html, text = rec.get("html"), rec.get("text")
    meta = {k: v for k, v in rec.items() if k not in ("html", "text", "images", "id")}
    meta["url"] = url.strip()
    media: list[Media] = []
    if isinstance(html, str) and html.strip():
        body, meta["content_format"] = html, "html"
    elif isinstance(text, str) and text.strip():
        body, meta["content_format"] = text, "text"
        for i, im in enumerate(rec.get("images") or []):
            if not isinstance(im, dict) or not isinstance(im.get("url"), str):
                raise ValueError(f"images[{i}] has no 'url' string")
            alt = im.get("alt")
            extra = {k: v for k, v in im.items() if k not in ("url", "alt")} | {"image_index": i}
            media.append(Media(id=make_key(url, im["url"]), type=MediaType.IMAGE, url=im["url"],
                               alt=alt if isinstance(alt, str) else "", metadata=extra))
    else:
        raise ValueError("record has neither 'html' nor 'text'")
    doc_id = rec.get("id")
    return Document(text=body, id=str(doc_id) if doc_id not in (None, "") else fallback_id, media=media, metadata=meta)


class CorpusJsonlReader(BaseDiskReader):
    """Reads corpus JSONL records (see the module docstring) into Documents."""

    name = "🐿 Corpus JSONL"

    def __init__(
        self,
        data_folder: DataFolderLike,
        paths_file: DataFileLike | None = None,
        limit: int = -1,
        skip: int = 0,
        glob_pattern: str | None = JSONL_GLOB,
        recursive: bool = True,
        default_metadata: dict | None = None,
    ):
        if isinstance(data_folder, os.PathLike):  # datatrove only takes str / DataFolder
            data_folder = os.fspath(data_folder)
        super().__init__(data_folder, paths_file, limit=limit, skip=skip, default_metadata=default_metadata,
                         recursive=recursive, glob_pattern=glob_pattern)

    def _lines(self, f: Iterable[str], filepath: str) -> Iterator[str]:
        """The file's lines up to the end, or up to a cut or damaged ``.gz`` (counted and logged)."""
        n = 0
        try:
            for line in f:
                n += 1
                yield line
        except EOFError as e:
            self.stat_update("truncated")
            logger.warning("%s ends early (truncated): kept the %d lines before the cut (%s)", filepath, n, e)
        except (OSError, zlib.error) as e:
            self.stat_update("file_error")
            logger.warning("%s: cannot read past line %d, kept the lines before (%r)", filepath, n, e)

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.data_folder.open(filepath, "rt", compression="infer", encoding="utf-8", errors="replace") as f:
            for li, line in enumerate(self._lines(f, filepath)):
                if not line.strip():
                    continue
                with self.track_time():
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as e:
                        self.stat_update("bad_json")
                        logger.warning("%s line %d: not JSON (%s)", filepath, li + 1, e)
                        continue
                    try:
                        doc = record_to_document(rec, make_key(filepath, li))
                    except ValueError as e:
                        self.stat_update("bad_record")
                        logger.warning("%s line %d: %s", filepath, li + 1, e)
                        continue
                    if self.default_metadata:
                        doc.metadata = self.default_metadata | doc.metadata
                    doc.metadata.setdefault("file_path", self.data_folder.resolve_paths(filepath))
                    doc.metadata["source_file"], doc.metadata["source_line"] = filepath, li + 1
                self.stat_update("documents_read")
                yield doc
