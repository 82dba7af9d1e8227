"""The embedded sample: original Japanese web-page-like documents that the demo crawls and tests reuse.

``documents.jsonl`` holds one document per line; ``mini_crawl.py`` renders them as HTML pages in a
WARC whose image URLs point at a loopback image server.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SAMPLE_DIR = Path(__file__).parent
DOCUMENTS = SAMPLE_DIR / "documents.jsonl"


@cache
def load_documents() -> tuple[dict, ...]:
    """The sample documents as dicts (read once per process)."""
    if not DOCUMENTS.exists():
        return ()
    with DOCUMENTS.open(encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f if line.strip())
