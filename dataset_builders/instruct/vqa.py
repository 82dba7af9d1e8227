"""Existing VQA data (JA-VG-VQA style) as conversations, with evaluation images kept out.

Input rows (JSON list or JSONL), either grouped per image or one QA pair per row::

    {"id": 1, "qas": [{"question": "...", "answer": "...", "image_id": 1, "qa_id": 7}, ...]}   # JA-VG-VQA / VG
    {"image_id": 1, "image": "1.jpg", "question": "...", "answer": "..."}                      # flat

The image is ``image`` / ``image_path`` / ``file_name`` / ``path`` (relative to ``--images``) or
``{image_id}.jpg|.png`` in ``--images``. Any image listed in an evaluation file (JA-VG-VQA-500:
by id, or by SHA-256 / MD5 of its bytes) is dropped and counted as ``eval_image`` — evaluation
images must never be trained on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_builders.errors import InputNotFound

logger = logging.getLogger(__name__)

CONVERSION_VERSION = "vqa-ja-v1"
_HEX = re.compile(r"^[0-9a-f]{32}$|^[0-9a-f]{64}$")


@dataclass
class VQAImage:
    image_id: str
    image_ref: str | None
    qas: list[tuple[str, str]] = field(default_factory=list)


def normalise_id(value: object) -> str:
    """Ids compare as strings, with leading zeros ignored for numeric ids (``000123`` == ``123``)."""
    s = str(value).strip()
    s = Path(s).stem if s.lower().endswith((".jpg", ".jpeg", ".png", ".webp")) else s
    return str(int(s)) if s.isdigit() else s


@dataclass
class EvalExclusion:
    """Image ids and content hashes of evaluation sets."""

    ids: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)

    @classmethod
    def from_files(cls, paths: list[str | os.PathLike]) -> EvalExclusion:
        out = cls()
        for path in map(Path, paths):
            if not path.is_file():
                raise InputNotFound(f"evaluation exclusion list {path} does not exist (eval_exclude in the config)")
            text = path.read_text(encoding="utf-8")
            values: list[Any]
            if path.suffix == ".json":
                data = json.loads(text)
                values = data if isinstance(data, list) else list(data.get("image_ids") or data.get("images") or [])
            elif path.suffix == ".jsonl":
                values = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                values = [line.split("#", 1)[0].strip() for line in text.splitlines()]
            for v in values:
                if isinstance(v, dict):
                    v = v.get("image_id", v.get("id", v.get("image")))
                if v is None or str(v).strip() == "":
                    continue
                s = str(v).strip().lower()
                (out.hashes if _HEX.match(s) else out.ids).add(normalise_id(v))
        logger.info("evaluation exclusion: %d image ids, %d image hashes", len(out.ids), len(out.hashes))
        return out

    def __len__(self) -> int:
        return len(self.ids) + len(self.hashes)

    def excludes(self, image_id: str, data: bytes | None) -> bool:
        if normalise_id(image_id) in self.ids:
            return True
        if data is not None and self.hashes:
            return hashlib.sha256(data).hexdigest() in self.hashes or hashlib.md5(data).hexdigest() in self.hashes
        return False


def _rows(path: Path) -> Iterator[Any]:
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        yield None
    else:
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from (data if isinstance(data, list) else data.get("data") or data.get("questions") or [])


def _ref(row: dict[str, Any]) -> str | None:
    for k in ("image", "image_path", "file_name", "path"):
        if row.get(k):
            return str(row[k])
    return None


def read_vqa(inputs: list[str | os.PathLike], counts: Counter[str]) -> Iterator[VQAImage]:
    """Images with their QA pairs, in first-seen order; unusable rows are counted ``bad_record``."""
    images: dict[str, VQAImage] = {}
    qa_seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in map(Path, inputs):
        if not path.is_file():
            raise InputNotFound(f"VQA input {path} does not exist (a JSON list or JSONL of question/answer rows)")
        for row in _rows(path):
            counts["input"] += 1
            try:
                pairs: list[dict[str, Any]] = row.get("qas", [row])
                image_id = row.get("image_id", row.get("id"))
                if image_id is None:
                    image_id = pairs[0].get("image_id")
                if image_id is None and _ref(row):
                    image_id = Path(_ref(row)).stem
                if image_id is None:
                    raise KeyError("image_id")
                iid = normalise_id(image_id)
                qas = [(str(p["question"]).strip(), str(p["answer"]).strip()) for p in pairs]
                qas = [qa for qa in qas if qa[0] and qa[1]]
            except (KeyError, TypeError, AttributeError, IndexError) as e:
                counts["dropped_bad_record"] += 1
                logger.warning("%s: unusable VQA row (%s: %s); skipped", path, type(e).__name__, e)
                continue
            counts["kept"] += 1
            img = images.setdefault(iid, VQAImage(iid, _ref(row)))
            img.image_ref = img.image_ref or _ref(row)
            for qa in qas:
                if qa not in qa_seen[iid]:
                    qa_seen[iid].add(qa)
                    img.qas.append(qa)
    yield from images.values()


def resolve_image(images_dir: Path | None, item: VQAImage) -> Path | None:
    candidates = []
    if item.image_ref:
        ref = Path(item.image_ref)
        candidates.append(ref if ref.is_absolute() or images_dir is None else images_dir / ref)
    if images_dir is not None:
        candidates += [images_dir / f"{item.image_id}{ext}" for ext in (".jpg", ".jpeg", ".png", ".webp")]
    return next((c for c in candidates if c.is_file()), None)


def conversations(item: VQAImage, max_turns: int, instruction: str) -> list[list[dict[str, str]]]:
    """The image's QA pairs as one or more conversations of at most ``max_turns`` pairs."""
    out = []
    for start in range(0, len(item.qas), max_turns):
        turns: list[dict[str, str]] = []
        for q, a in item.qas[start:start + max_turns]:
            question = f"{q}\n{instruction}" if instruction else q
            turns += [{"role": "user", "content": question}, {"role": "assistant", "content": a}]
        turns[0]["content"] = "<image>\n" + turns[0]["content"]
        out.append(turns)
    return out
