"""Per-rank persistent state of a download run: what finished, with which status, and where its bytes are.

Layout of one rank's folder::

    status.jsonl         append-only, one JSON record per finished URL (the last line of a URL wins)
    chunk_000000.tar     images of a group of finished URLs, written atomically (tmp + rename)
    chunk_000001.tar     ...

A flush first writes the chunk of buffered images (``dataset_builders.atomic``), then appends their
status lines and fsyncs the log. A run killed at any point therefore leaves only complete chunks and
complete lines (a torn last line is dropped when the log is reopened); URLs whose lines are missing
are simply downloaded again. ``ok`` records point into a chunk by byte offset, so a resumed run reads
an image without scanning tars.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tarfile
import time
from hashlib import sha1
from pathlib import Path

from dataset_builders.atomic import atomic_write_bytes, remove_stale_tmp
from dataset_builders.download.result import DownloadResult

logger = logging.getLogger(__name__)

LOG_NAME = "status.jsonl"
_CHUNK_RE = re.compile(r"chunk_(\d+)\.tar$")


class StatusStore:
    """Status log + image chunks of one rank. Not safe for two processes on the same folder."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        remove_stale_tmp(self.dir, "chunk_*")
        self.log_path = self.dir / LOG_NAME
        self._records: dict[str, dict] = {}
        self._load()
        seqs = [int(m.group(1)) for p in self.dir.iterdir() if (m := _CHUNK_RE.match(p.name))]
        self._next_chunk = max(seqs, default=-1) + 1
        self._pending: list[DownloadResult] = []
        self._buffered: dict[str, DownloadResult] = {}  # the pending results by URL, until flushed
        self._last_flush = time.monotonic()
        self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends

    # -- reading -------------------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.log_path.exists():
            return
        data = self.log_path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # torn last line of a killed run: cut it so appends start on a fresh line
            logger.warning("%s: dropping a torn last line (%d bytes)", self.log_path, len(data) - end)
            os.truncate(self.log_path, end)
            data = data[:end]
        for i, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                url = rec["url"]
            except (ValueError, KeyError, TypeError):
                logger.warning("%s:%d: unreadable status line ignored", self.log_path, i)
                continue
            if rec.get("status") == "ok" and not self._chunk_has(rec):
                logger.warning("%s:%d: image of %s missing from %s; will download again",
                               self.log_path, i, url, rec.get("chunk"))
                self._records.pop(url, None)
                continue
            self._records[url] = rec

    def _chunk_has(self, rec: dict) -> bool:
        try:
            size = (self.dir / rec["chunk"]).stat().st_size
            return size >= int(rec["offset"]) + int(rec["length"])
        except (KeyError, TypeError, ValueError, OSError):
            return False

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, url: str) -> bool:
        return url in self._records

    def record(self, url: str) -> dict | None:
        """The last record of ``url`` (without image bytes; persisted, or buffered for the next flush), or ``None``."""
        buffered = self._buffered.get(url)
        return buffered.to_record() if buffered is not None else self._records.get(url)

    def records(self) -> dict[str, dict]:
        return dict(self._records)

    def read_image(self, rec: dict) -> bytes:
        with open(self.dir / rec["chunk"], "rb") as f:
            f.seek(int(rec["offset"]))
            return f.read(int(rec["length"]))

    def get(self, url: str) -> DownloadResult | None:
        """The last result of ``url`` (persisted or buffered) with its image bytes, or ``None``."""
        if url in self._buffered:
            return self._buffered[url]
        rec = self._records.get(url)
        if rec is None:
            return None
        image = self.read_image(rec) if rec.get("status") == "ok" else None
        return DownloadResult.from_record(rec, image)

    # -- writing -------------------------------------------------------------------------------------
    def add(self, result: DownloadResult) -> None:
        """Buffer a finished result; it is durable after the next :meth:`flush`."""
        self._pending.append(result)
        self._buffered[result.url] = result

    @property
    def pending(self) -> int:
        return len(self._pending)

    def seconds_since_flush(self) -> float:
        return time.monotonic() - self._last_flush

    def flush(self) -> None:
        """Write buffered images as one atomic chunk, then their status lines (fsynced)."""
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._buffered = {}
        records = [r.to_record() for r in pending]
        images = [(rec, r.image) for rec, r in zip(records, pending, strict=True) if r.ok and r.image]
        if images:
            name = f"chunk_{self._next_chunk:06d}.tar"
            self._next_chunk += 1
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for rec, image in images:
                    info = tarfile.TarInfo(sha1(rec["url"].encode("utf-8")).hexdigest() + ".jpg")
                    info.size = len(image)
                    info.mtime = 0
                    header_at = tar.offset
                    tar.addfile(info, io.BytesIO(image))  # USTAR, short name: one 512-byte header
                    rec.update(chunk=name, offset=header_at + tarfile.BLOCKSIZE, length=len(image))
            atomic_write_bytes(self.dir / name, buf.getvalue())
        self._log.write("".join(json.dumps(rec, ensure_ascii=False) + "\n" for rec in records))
        self._log.flush()
        os.fsync(self._log.fileno())
        for rec in records:
            self._records[rec["url"]] = rec

    def close(self) -> None:
        if self._log.closed:
            return
        try:
            self.flush()
        finally:
            self._log.close()
