"""Local benchmark folders built from the real public samples in ``../shared/realdata`` (tests only).

Questions and answers come from the real files; images are the real TextVQA photos, and synthetic
stand-ins (:mod:`dataset_builders.tiny.synthetic_images`) where a benchmark's images are not included.
Nothing is copied into the repository: everything is written under the ``out`` folder a test gives.

* ``heron_bench`` — Heron's own layout: the full Japanese Heron-Bench text (103 questions) with its
  GPT-4 reference answers, 21 stand-in images;
* ``ja_vlm_bench_in_the_wild`` — Hub-schema rows from LLaVA-Bench-in-the-Wild (Japanese): the same
  kind of open questions on photos (the Sakana set itself is Hub-only);
* ``ja_vg_vqa_500`` — Hub-schema rows (``image_id``, ``image``, ``qas``) from the short ``conv``
  questions of LLaVA-Bench COCO (Japanese), grouped by image like JA-VG-VQA;
* ``textvqa`` — the official TextVQA 0.5.1 layout (train + val samples, 10 real photos).
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from dataset_builders.tiny.synthetic_images import make_image
from eval.tasks.base import FIXTURE_MARKER

_NOTE = "test fixture\nReal benchmark questions with stand-in images (tests only).\n"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _stand_in(folder: Path, name: str) -> None:
    path = folder / "images" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_image(f"stand-in:{name}", 64, 48))


def build_heron_bench(realdata: Path, out: Path) -> Path:
    src = realdata / "ja_vlm_bench" / "heron_bench"
    folder = out / "heron_bench"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("questions_ja.jsonl", "answers_gpt4.jsonl"):
        shutil.copyfile(src / name, folder / name)
    for q in _jsonl(src / "questions_ja.jsonl"):
        _stand_in(folder, q["image"])
    return folder


def build_in_the_wild(realdata: Path, out: Path) -> Path:
    src = realdata / "ja_vlm_bench" / "llava_bench_in_the_wild_ja"
    folder = out / "ja_vlm_bench_in_the_wild"
    answers = {a["question_id"]: a["jp"] for a in _jsonl(src / "answers_gpt4_ja.jsonl")}
    rows = []
    for q in _jsonl(src / "questions_ja.jsonl"):
        _stand_in(folder, q["image"])
        rows.append({"question_id": q["question_id"], "image": f"images/{q['image']}", "question": q["jp"],
                     "answer": answers[q["question_id"]]})
    _write_jsonl(folder / "test.jsonl", rows)
    return folder


def build_vg_vqa(realdata: Path, out: Path) -> Path:
    src = realdata / "ja_vlm_bench" / "llava_bench_coco_ja"
    folder = out / "ja_vg_vqa_500"
    answers = {a["question_id"]: a["text_JA"] for a in _jsonl(src / "qa90_gpt4_answers_ja.jsonl")}
    by_image: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for q in _jsonl(src / "qa90_questions_ja.jsonl"):
        if q["category"] == "conv":
            by_image[q["image"]].append({"qa_id": q["question_id"], "question": q["text_JA"],
                                         "answer": answers[q["question_id"]]})
    rows = []
    for image, qas in by_image.items():
        _stand_in(folder, image)
        rows.append({"image_id": Path(image).stem, "image": f"images/{image}", "qas": qas})
    _write_jsonl(folder / "test.jsonl", rows)
    return folder


def build_textvqa(realdata: Path, out: Path) -> Path:
    src = realdata / "vqa" / "textvqa"
    folder = out / "textvqa"
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        name = f"TextVQA_0.5.1_{split}_sample5.json"
        shutil.copyfile(src / name, folder / f"TextVQA_0.5.1_{split}.json")
    link = folder / "train_images"
    if not link.exists():
        try:
            os.symlink(src / "images" / "train_images", link, target_is_directory=True)
        except OSError:  # no symlinks (some Windows setups): copy the 7 photos
            shutil.copytree(src / "images" / "train_images", link)
    return folder


def build_realdata_benchmarks(realdata: Path, out: Path) -> dict[str, Path]:
    """All four fixture folders under ``out`` (each marked as fixture data); task name → folder."""
    folders = {
        "heron_bench": build_heron_bench(realdata, out),
        "ja_vlm_bench_in_the_wild": build_in_the_wild(realdata, out),
        "ja_vg_vqa_500": build_vg_vqa(realdata, out),
        "textvqa": build_textvqa(realdata, out),
    }
    for folder in folders.values():
        (folder / FIXTURE_MARKER).write_text(_NOTE, encoding="utf-8")
    return folders
