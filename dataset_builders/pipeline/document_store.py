"""Documents with their image bytes, saved by one stage and read by the next.

One tar per task, ``{rank:05d}.docs.tar``, written under a temporary name and renamed when the
task's stream ends, so a half-written store is never read. Each document is a ``NNNNNNNN.json``
member (text, metadata, media without bytes) followed by ``NNNNNNNN.<k>.bin`` members with the
bytes of media ``k``. Readers pick the files of their rank by index, so a later stage may run
with a different number of tasks.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline, Media
from datatrove.pipeline.base import PipelineStep

from dataset_builders.atomic import tmp_path_for

SUFFIX = ".docs.tar"


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 0
    tf.addfile(info, io.BytesIO(data))


def document_to_json(doc: Document) -> dict:
    return {
        "id": doc.id,
        "text": doc.text,
        "metadata": doc.metadata,
        "media": [
            {"id": m.id, "type": m.type, "url": m.url, "alt": m.alt, "metadata": m.metadata, "has_bytes": m.media_bytes is not None}
            for m in doc.media
        ],
    }


class SaveDocuments(PipelineStep):
    """Save every document of this task (and pass it on)."""

    type = "💾 - STORE"
    name = "save documents"

    def __init__(self, folder: str | os.PathLike):
        super().__init__()
        self.folder = str(folder)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        path = Path(self.folder) / f"{rank:05d}{SUFFIX}"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_path_for(path)
        with tarfile.open(tmp, "w") as tf:
            for i, doc in enumerate(data or []):
                _add(tf, f"{i:08d}.json", json.dumps(document_to_json(doc), ensure_ascii=False).encode("utf-8"))
                for k, m in enumerate(doc.media):
                    if m.media_bytes is not None:
                        _add(tf, f"{i:08d}.{k}.bin", m.media_bytes)
                self.stat_update("documents")
                yield doc
        os.replace(tmp, path)


def read_documents(path: str | os.PathLike):
    """Documents of one store file, in the order they were saved."""
    with tarfile.open(path) as tf:
        current: dict | None = None
        blobs: dict[int, bytes] = {}
        for member in tf:
            name = member.name
            data = tf.extractfile(member).read()
            if name.endswith(".json"):
                if current is not None:
                    yield _restore(current, blobs)
                current, blobs = json.loads(data), {}
            else:
                blobs[int(name.split(".")[1])] = data
        if current is not None:
            yield _restore(current, blobs)


def _restore(record: dict, blobs: dict[int, bytes]) -> Document:
    media = [
        Media(id=m["id"], type=m["type"], url=m["url"], alt=m["alt"], metadata=m["metadata"], media_bytes=blobs.get(k))
        for k, m in enumerate(record["media"])
    ]
    return Document(text=record["text"], id=record["id"], media=media, metadata=record["metadata"])


class LoadDocuments(PipelineStep):
    """Read the documents saved by :class:`SaveDocuments`; task ``rank`` reads files ``rank, rank + world_size, …``."""

    type = "📖 - READER"
    name = "load documents"

    def __init__(self, folder: str | os.PathLike):
        super().__init__()
        self.folder = str(folder)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        files = sorted(Path(self.folder).glob(f"*{SUFFIX}"))
        for path in files[rank::world_size]:
            for doc in read_documents(path):
                self.stat_update("documents")
                yield doc
