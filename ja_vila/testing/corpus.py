"""Input corpora for tests and benchmarks: the embedded sample and real pages as JSONL corpora.

Readers shard work by file, so splitting a corpus over several files is what lets a test compare
1 task with N tasks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dataset_builders.tiny.sample import load_documents
from dataset_builders.tiny.sample.mini_crawl import page_url, render_page


def _write_split(folder: Path, records: list[dict], files: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        with (folder / f"part-{i:03d}.jsonl").open("w", encoding="utf-8") as f:
            for rec in records[i::files]:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return folder


def write_sample_corpus(folder: str | os.PathLike, image_base_url: str, files: int = 3) -> Path:
    """The embedded sample pages (images on ``image_base_url``) as ``files`` JSONL files."""
    records = [{"url": page_url(doc), "html": render_page(doc, image_base_url)} for doc in load_documents()]
    return _write_split(Path(folder), records, files)


def write_real_pages_corpus(folder: str | os.PathLike, realdata: str | os.PathLike, files: int = 3) -> Path:
    """The real Japanese pages of ``realdata/html`` (with their original URLs) as JSONL files."""
    realdata = Path(realdata)
    meta = json.loads((realdata / "html" / "postlight_pages_meta.json").read_text(encoding="utf-8"))
    records = [
        {"url": page["url"], "html": (realdata / page["file"]).read_bytes().decode("utf-8", errors="replace")}
        for page in meta["pages"]
        if page["file"].startswith("html/ja/")
    ]
    return _write_split(Path(folder), records, files)
