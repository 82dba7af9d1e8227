"""COCO-style annotations (captions + boxes) from LLaVA's ``caps_boxes`` JSONL or official COCO JSON.

Both become :class:`ImageAnnotation` with boxes normalised to ``[x1, y1, x2, y2]`` in 0–1:

* LLaVA ``caps_boxes`` JSONL — one image per line:
  ``{"id", "image", "captions": [...], "instances": [{"category", "bbox": [x1,y1,x2,y2] (0-1)}]}``;
* official COCO ``captions_*.json`` and/or ``instances_*.json`` — ``images`` (id, file_name,
  width, height), ``annotations`` (``caption``, or ``bbox`` as pixel ``[x, y, w, h]`` +
  ``category_id``), ``categories``. Given both files, they are joined on the image id.

A record that cannot be read is counted (``bad_record``) and skipped, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_builders.errors import UserInputError

logger = logging.getLogger(__name__)


class AnnotationError(UserInputError):
    """An annotation input that is missing or not in a format the builder reads."""


@dataclass
class Box:
    category: str
    bbox: tuple[float, float, float, float]  # normalised x1, y1, x2, y2


@dataclass
class ImageAnnotation:
    image_id: str
    file_name: str
    captions: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    width: int | None = None
    height: int | None = None


def _clip(v: float) -> float:
    return min(max(float(v), 0.0), 1.0)


def _llava_record(row: dict[str, Any]) -> ImageAnnotation:
    image_id = str(row.get("id") or Path(str(row["image"])).stem)
    boxes = []
    for inst in row.get("instances") or []:
        x1, y1, x2, y2 = (float(v) for v in inst["bbox"])
        boxes.append(Box(str(inst["category"]), (_clip(x1), _clip(y1), _clip(x2), _clip(y2))))
    captions = [str(c).strip() for c in row.get("captions") or [] if str(c).strip()]
    return ImageAnnotation(image_id, str(row.get("image") or f"{image_id}.jpg"), captions, boxes)


def read_llava_jsonl(path: str | os.PathLike, counts: Counter[str]) -> Iterator[ImageAnnotation]:
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            counts["input"] += 1
            try:
                ann = _llava_record(json.loads(line))
            except (ValueError, KeyError, TypeError) as e:
                counts["dropped_bad_record"] += 1
                logger.warning("%s:%d: unreadable caps_boxes record (%s); skipped", path, lineno, e)
                continue
            counts["kept"] += 1
            yield ann


def read_coco_json(paths: list[Path], counts: Counter[str]) -> Iterator[ImageAnnotation]:
    """Join official COCO ``captions_*.json`` and ``instances_*.json`` (either or both) per image."""
    images: dict[str, dict[str, Any]] = {}
    captions: dict[str, list[str]] = defaultdict(list)
    boxes: dict[str, list[Box]] = defaultdict(list)
    pending_boxes: list[tuple[str, list[float], Any]] = []
    categories: dict[Any, str] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except ValueError as e:
            raise AnnotationError(f"{path} is not valid JSON ({e}); expected a COCO captions_/instances_ file") from e
        if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
            raise AnnotationError(f"{path}: not a COCO annotation file (needs 'images' and 'annotations')")
        for im in data["images"]:
            images.setdefault(str(im["id"]), im)
        for c in data.get("categories") or []:
            categories[c["id"]] = c["name"]
        for a in data["annotations"]:
            iid = str(a.get("image_id"))
            if "caption" in a:
                captions[iid].append(str(a["caption"]).strip())
            elif "bbox" in a:
                pending_boxes.append((iid, a["bbox"], a.get("category_id")))
    for iid, (x, y, w, h), cat in pending_boxes:
        im = images.get(iid) or {}
        W, H = im.get("width"), im.get("height")
        if not W or not H:
            continue
        boxes[iid].append(Box(categories.get(cat, str(cat)),
                              (_clip(x / W), _clip(y / H), _clip((x + w) / W), _clip((y + h) / H))))
    for iid in sorted(images, key=lambda s: (len(s), s)):
        im = images[iid]
        counts["input"] += 1
        if not captions.get(iid) and not boxes.get(iid):
            counts["dropped_no_annotations"] += 1
            continue
        counts["kept"] += 1
        yield ImageAnnotation(iid, str(im.get("file_name") or f"{iid}.jpg"), captions.get(iid, []),
                              boxes.get(iid, []), im.get("width"), im.get("height"))


def read_annotations(inputs: list[str | os.PathLike], counts: Counter[str]) -> Iterator[ImageAnnotation]:
    """Annotations from every input: ``.jsonl`` files are LLaVA caps_boxes, ``.json`` files official
    COCO (all ``.json`` inputs are joined); a folder contributes the files inside it."""
    files: list[Path] = []
    for p in map(Path, inputs):
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix in (".json", ".jsonl"))
        elif p.is_file():
            files.append(p)
        else:
            raise AnnotationError(f"annotation input {p} does not exist (give a caps_boxes .jsonl, COCO .json files or a folder)")
    if not files:
        raise AnnotationError(f"no .json/.jsonl annotation files in {[str(i) for i in inputs]}")
    for f in files:
        if f.suffix == ".jsonl":
            yield from read_llava_jsonl(f, counts)
    coco = [f for f in files if f.suffix == ".json"]
    if coco:
        yield from read_coco_json(coco, counts)
