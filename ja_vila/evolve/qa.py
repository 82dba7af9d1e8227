"""QA evolution: a detailed caption per training image → QA pairs from the caption → each question
evolved into an easier and a harder variant with answers; later generations evolve the previous
generation's variants again. ``qa.jsonl`` of a generation holds the questions the next one evolves."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from ja_vila.evolve import prompts
from ja_vila.evolve.agents import Agent
from ja_vila.evolve.config import EvolveConfig
from ja_vila.evolve.dataset_io import GeneratedSample
from ja_vila.evolve.images import TrainImage
from ja_vila.evolve.schemas import DetailedCaption, EvolvedQuestion, QAPairs
from ja_vila.evolve.verify import ocr_consistent

logger = logging.getLogger(__name__)


def _qid(*parts: str) -> str:
    return "q" + hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:12]


def captions_for(images: list[TrainImage], annotator: Agent) -> dict[str, str]:
    """image id → detailed caption (cached after the first generation asked)."""
    reqs = [annotator.request(prompts.caption_prompt(), DetailedCaption, f"caption:{img.id}", images=[img.data])
            for img in images]
    return {img.id: r.value.caption for img, r in zip(images, annotator.ask(reqs), strict=True) if r.ok}


def read_questions(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evolve_qa(cfg: EvolveConfig, generation: int, images: list[TrainImage], annotator: Agent,
              previous: list[dict[str, Any]]) -> tuple[list[GeneratedSample], list[dict[str, Any]], Counter[str]]:
    """This generation's samples, its questions (for the next generation) and counts."""
    counts: Counter[str] = Counter()
    by_id = {img.id: img for img in images}
    captions = captions_for(images, annotator)
    counts["captions"] = len(captions)
    questions: list[dict[str, Any]] = []  # {id, image_id, question, answer, kind, parents}
    if generation == 1 or not previous:
        ids = [i for i in captions if i in by_id]
        reqs = [annotator.request(prompts.qa_prompt(captions[i], cfg.qa_pairs_per_image), QAPairs, f"qa:{i}")
                for i in ids]
        for i, r in zip(ids, annotator.ask(reqs), strict=True):
            for p in (r.value.pairs[:cfg.qa_pairs_per_image] if r.ok else []):
                questions.append({"id": _qid(i, p.question), "image_id": i, "question": p.question,
                                  "answer": p.answer, "kind": "qa_original", "parents": []})
        parents = list(questions)
    else:
        per_image: Counter[str] = Counter()
        parents = []
        for q in sorted(previous, key=lambda q: (q["kind"] != "qa_harder", q["id"])):  # harder ones first
            if q["image_id"] in captions and per_image[q["image_id"]] < cfg.qa_evolve_per_image:
                per_image[q["image_id"]] += 1
                parents.append(q)
    reqs = [annotator.request(prompts.evolve_prompt(captions[q["image_id"]], q["question"], q["answer"]),
                              EvolvedQuestion, f"evolve:{q['id']}") for q in parents]
    for q, r in zip(parents, annotator.ask(reqs), strict=True):
        if not r.ok:
            counts["dropped_evolve_failed"] += 1
            continue
        for kind, pair in (("qa_easier", r.value.easier), ("qa_harder", r.value.harder)):
            questions.append({"id": _qid(q["id"], kind, pair.question), "image_id": q["image_id"],
                              "question": pair.question, "answer": pair.answer, "kind": kind, "parents": [q["id"]]})
    samples = []
    for q in questions:
        img = by_id.get(q["image_id"])
        if img is None or not q["question"].strip() or not q["answer"].strip():
            counts["dropped_empty"] += 1
            continue
        if cfg.verify.ocr_check and not ocr_consistent(q["answer"], img.ocr_tokens):
            counts["dropped_ocr_mismatch"] += 1
            continue
        counts["kept"] += 1
        samples.append(GeneratedSample(img.id, img.data, q["question"].strip(), q["answer"].strip(), generation,
                                       q["kind"], list(q["parents"]) or [img.id]))
    return samples, questions, counts
