"""Documents with their image bytes, saved by one stage and read by the next.

One tar per task, ``{rank:05d}.docs.tar``, written under a temporary name and renamed when the
task's stream ends, so a half-written store is never read. Each document is a ``NNNNNNNN.json``
member (text, metadata, media without bytes) followed by ``NNNNNNNN.<k>.bin`` members with the
bytes of media ``k``. Readers pick the files of their rank by index, so a later stage may run
with a different number of tasks.

``NNNNNNNN`` is the document's place in its stage's input when a step recorded it in
``metadata[INPUT_POSITION]`` (the download step does: it passes documents on as their images
finish, not in input order), otherwise its place in the saved stream. Readers return documents
ordered by it, so the next stage sees the input order and builds stay deterministic.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from datatrove.data import Document, DocumentsPipeline, Media
from datatrove.pipeline.base import PipelineStep

from dataset_builders.atomic import tmp_path_for, with_path

SUFFIX = ".docs.tar"
#: Metadata key holding a document's place in the input of a step that reorders documents; the store
#: saves it as the member name (and removes the key) and reads documents back in that order.
INPUT_POSITION = "input_position"


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
        used: set[int] = set()
        try:
            with tarfile.open(tmp, "w") as tf:
                for i, doc in enumerate(data or []):
                    n = doc.metadata.pop(INPUT_POSITION, i)
                    if n in used:
                        raise RuntimeError(f"{self.name}: two documents at position {n} (document {doc.id}); a step "
                                           f"that sets metadata[{INPUT_POSITION!r}] must set it on every document")
                    used.add(n)
                    _add(tf, f"{n:08d}.json", json.dumps(document_to_json(doc), ensure_ascii=False).encode("utf-8"))
                    for k, m in enumerate(doc.media):
                        if m.media_bytes is not None:
                            _add(tf, f"{n:08d}.{k}.bin", m.media_bytes)
                    self.stat_update("documents")
                    yield doc
        except OSError as e:  # disk full: no partial store stays behind, and the error names it
            tmp.unlink(missing_ok=True)
            raise with_path(e, tmp) from e
        os.replace(tmp, path)


def read_documents(path: str | os.PathLike):
    """Documents of one store file, in input order (see the module docstring)."""
    with tarfile.open(path) as tf:
        members: dict[int, list[tarfile.TarInfo]] = {}
        for member in tf.getmembers():  # headers only; tarfile keeps them while iterating anyway
            members.setdefault(int(member.name.split(".", 1)[0]), []).append(member)
        for n in sorted(members):
            record, blobs = None, {}
            for member in members[n]:
                data = tf.extractfile(member).read()
                if member.name.endswith(".json"):
                    record = json.loads(data)
                else:
                    blobs[int(member.name.split(".")[1])] = data
            if record is not None:
                yield _restore(record, blobs)


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
