"""Labelled pages (``realdata/labels/pages.jsonl``): one JSON object per page, read into
:class:`LabelledPage`, and each page loaded as the builders' readers would hand it on.

``source`` is a path under the root (an HTML file, decoded as the WARC reader decodes payloads) or
``warc/FILE#<WARC-Record-ID>`` (the record read by :class:`~dataset_builders.web.WarcHtmlReader`
itself). The page URL is the label's ``url`` (what its ``resolved_url`` values were resolved
against); for a WARC record it is the record's target URI when the label has none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datatrove.data import Document

from dataset_builders.web.charset import decode_html
from dataset_builders.web.warc_reader import WarcHtmlReader


class LabelsError(ValueError):
    """The labels file or a page it names cannot be read."""


@dataclass
class LabelledPage:
    source: str
    url: str | None
    images: list[dict[str, Any]] = field(default_factory=list)
    main_text: str = ""
    harmful: bool = False
    page_kind: str = ""

    def image_label(self, url: str, image_index: int | None = None) -> dict[str, Any] | None:
        """The first labelled ``<img>`` whose ``resolved_url`` or ``lazy_resolved_url`` is ``url``; else
        (a ``srcset`` candidate the labels do not list) the ``<img>`` at ``image_index`` in page order."""
        for im in self.images:
            if url in (im.get("resolved_url"), im.get("lazy_resolved_url")):
                return im
        if image_index is not None and 0 <= image_index < len(self.images):
            return self.images[image_index]
        return None


def read_labels(path: str | os.PathLike) -> list[LabelledPage]:
    """All pages of a labels file; a one-line error naming the file and line for a bad record."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"labels file {path} does not exist (expected realdata/labels/pages.jsonl)")
    pages = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            pages.append(LabelledPage(
                source=rec["source"], url=rec.get("url"), images=list(rec.get("images") or []),
                main_text=rec.get("main_text") or "", harmful=bool(rec.get("harmful")),
                page_kind=rec.get("page_kind") or "",
            ))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise LabelsError(f"{path} line {i}: not a labelled page ({e!r}); see labels/README.md") from e
    return pages


def load_page_document(page: LabelledPage, root: str | os.PathLike) -> Document:
    """The page as the readers yield it: ``text`` = decoded HTML, ``metadata`` url + ``content_format``."""
    root = Path(root)
    source, _, record_id = page.source.partition("#")
    path = root / source
    if not path.is_file():
        raise LabelsError(f"page {page.source}: {path} does not exist (is --root the realdata folder?)")
    if record_id:
        reader = WarcHtmlReader(str(path.parent), glob_pattern=path.name)
        for doc in reader():
            if doc.id == record_id:
                if page.url:
                    doc.metadata["url"] = page.url
                return doc
        raise LabelsError(f"page {page.source}: no HTML response with WARC-Record-ID {record_id} in {path}")
    html = decode_html(path.read_bytes()).text
    return Document(text=html, id=page.source, metadata={"url": page.url or "", "content_format": "html"})
