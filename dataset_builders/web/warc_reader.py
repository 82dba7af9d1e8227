"""WARC files → one ``Document`` per HTML response (``text`` = decoded HTML, ``content_format="html"``).

Why warcio and not fastwarc (both installed; measured on ../shared/realdata/warc): fastwarc is
about 2-3× faster at reading records but, on the real quirks, (a) parses ClueWeb09-ja's bare-LF HTTP
headers wrongly and silently loses the first ~10 KB of each payload (the whole ``<head>``: title and
``<meta charset>``), (b) returns ``Transfer-Encoding: chunked`` payloads still chunk-encoded and
(c) does not undo a real ``Content-Encoding: gzip``. warcio handles all of these (and ClueWeb's bogus
``Content-Encoding: gzip`` on a plain payload, ``WARC/0.18`` and invalid ``WARC-Date``), and strips
wget's ``<https://…>`` angle brackets. Reading is a small share of the cost next to HTML extraction.

Kept: ``response`` records with an http(s) target, a 2xx status and an HTML payload (by HTTP
``Content-Type``, or sniffed when it is missing). Everything else is counted by reason
(``skipped_<record type>``, ``skipped_not_http``, ``skipped_status``, ``skipped_not_html``,
``skipped_empty``), as are unreadable records (``record_error``). A file that ends early (cut inside a
record or a gzip member: ``truncated``) or whose next record cannot be parsed (``file_error``) keeps
the documents read before the fault, logs a warning naming it, and the next file is read. ARC files
(``.arc``, ``.arc.gz``) are read too (warcio parses both formats). Files are sharded by
rank/world_size by datatrove's ``BaseDiskReader``.
Provenance in ``metadata``: ``source_file`` (relative to the input folder), ``warc_record_id`` (also
the document id) and ``warc_date``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable

from datatrove.data import DocumentsPipeline
from datatrove.io import DataFileLike, DataFolderLike
from datatrove.pipeline.readers.base import BaseDiskReader
from warcio.archiveiterator import ArchiveIterator

from dataset_builders.keys import make_key
from dataset_builders.web.charset import charset_from_content_type, decode_html

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF_RE = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title|div|table|p\b)",
                       re.IGNORECASE | re.DOTALL)
WARC_GLOB = "**/*.warc*"


def looks_like_html(body: bytes) -> bool:
    """Sniff a payload without a Content-Type: does it start like an HTML document?"""
    return bool(_SNIFF_RE.match(body[:2048]))


class _CutAwareIterator(ArchiveIterator):
    """warcio's record iterator that also tells whether the file ended early: inside a record (fewer
    bytes than its Content-Length) or inside a gzip member. warcio itself reads up to a cut silently."""

    cut = False

    def close(self) -> None:
        decompressor = self.reader.decompressor if self.reader else None
        if decompressor is not None and not getattr(decompressor, "eof", True):
            self.cut = True
        if self.record is not None and getattr(self.record.raw_stream, "limit", 0) > 0:
            self.cut = True
        super().close()


def _clean_uri(uri: str | None) -> str:
    uri = (uri or "").strip()
    if uri.startswith("<") and uri.endswith(">"):  # WARC 1.0 grammar as written by wget
        uri = uri[1:-1].strip()
    return uri


class WarcHtmlReader(BaseDiskReader):
    """Reads HTML responses from ``.warc`` / ``.warc.gz`` files (see the module docstring for what is kept)."""

    name = "🕷 WARC (HTML responses)"
    _requires_dependencies = ["warcio"]

    def __init__(
        self,
        data_folder: DataFolderLike,
        paths_file: DataFileLike | None = None,
        limit: int = -1,
        skip: int = 0,
        glob_pattern: str | None = WARC_GLOB,
        recursive: bool = True,
        default_metadata: dict | None = None,
        max_payload_bytes: int = 10 * 1024 * 1024,
        adapter: Callable | None = None,
    ):
        if isinstance(data_folder, os.PathLike):  # datatrove only takes str / DataFolder
            data_folder = os.fspath(data_folder)
        super().__init__(data_folder, paths_file, limit=limit, skip=skip, adapter=adapter,
                         default_metadata=default_metadata, recursive=recursive, glob_pattern=glob_pattern)
        self.max_payload_bytes = max_payload_bytes

    def _record_to_dict(self, record, filepath: str) -> dict | None:
        rtype = record.rec_type
        if rtype != "response":
            self.stat_update(f"skipped_{rtype or 'unknown'}")
            return None
        url = _clean_uri(record.rec_headers.get_header("WARC-Target-URI") or record.rec_headers.get_header("uri"))
        if not url.lower().startswith(("http://", "https://")):
            self.stat_update("skipped_not_http")
            return None
        http = record.http_headers
        status = http.get_statuscode() if http is not None else None
        if not status or not str(status).startswith("2"):
            self.stat_update("skipped_status")
            return None
        content_type = (http.get_header("Content-Type") or "").strip()
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime and mime not in HTML_TYPES:
            self.stat_update("skipped_not_html")
            return None
        body = record.content_stream().read(self.max_payload_bytes + 1)
        if len(body) > self.max_payload_bytes:
            self.stat_update("skipped_too_large")
            return None
        if not body.strip():
            self.stat_update("skipped_empty")
            return None
        if not mime and not looks_like_html(body):
            self.stat_update("skipped_not_html")
            return None
        decoded = decode_html(body, charset_from_content_type(content_type))
        if decoded.source == "lossy":
            self.stat_update("decoded_lossy")
        warc_id = (record.rec_headers.get_header("WARC-Record-ID") or "").strip() or None
        return {
            "text": decoded.text,
            "id": _clean_uri(warc_id) or make_key(filepath, url),
            "metadata": {
                "url": url,
                "source_file": filepath,
                "warc_record_id": warc_id,  # verbatim, as in the WARC header (usually <urn:uuid:…>)
                "warc_date": record.rec_headers.get_header("WARC-Date"),
                "content_type": content_type,
                "encoding": decoded.encoding,
                "encoding_source": decoded.source,
                "content_format": "html",
            },
        }

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with self.data_folder.open(filepath, "rb") as f:
            records = _CutAwareIterator(f)
            it = iter(records)
            ri = 0
            while True:
                try:
                    record = next(it)
                except StopIteration:
                    if records.cut:
                        self.stat_update("truncated")
                        logger.warning("%s ends early (truncated): kept what the %d records before the cut held",
                                       filepath, ri)
                    break
                except Exception as e:  # truncated gzip member, broken record header: the rest is lost
                    self.stat_update("file_error")
                    logger.warning("stopped reading %s after %d records: %r", filepath, ri, e)
                    break
                ri += 1
                with self.track_time():
                    try:
                        data = self._record_to_dict(record, filepath)
                    except Exception as e:
                        self.stat_update("record_error")
                        logger.warning("skipping record %d of %s: %r", ri, filepath, e)
                        continue
                    if data is None:
                        continue
                    document = self.get_document_from_dict(data, filepath, ri)
                if document is not None:
                    self.stat_update("html_documents")
                    yield document
