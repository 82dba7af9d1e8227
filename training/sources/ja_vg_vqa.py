"""JA-VG-VQA (Japanese Visual Genome VQA) → instruct conversations.

The release follows Visual Genome's ``question_answers.json``: a list of ``{"id": image_id,
"qas": [{"qa_id", "image_id", "question", "answer", ...}]}``; images are Visual Genome's
``{image_id}.jpg``. The QAs of one image become one multi-turn conversation (at most
``max_turns`` QAs per sample; more QAs continue in further samples of the same image).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.sources._common import key_for, read_image

logger = logging.getLogger(__name__)


def ja_vg_vqa(json_path: str | os.PathLike, image_dir: str | os.PathLike, max_turns: int = 8) -> Iterator[dict[str, Any]]:
    image_dir = Path(image_dir)
    for entry in json.loads(Path(json_path).read_text(encoding="utf-8")):
        qas = [qa for qa in entry.get("qas") or [] if (qa.get("question") or "").strip() and (qa.get("answer") or "").strip()]
        if not qas:
            continue
        image_id = entry.get("id", qas[0].get("image_id"))
        data = read_image(image_dir, f"{image_id}.jpg")
        if data is None:
            continue
        for start in range(0, len(qas), max_turns):
            turns = []
            for qa in qas[start : start + max_turns]:
                question = qa["question"].strip()
                turns.append({"role": "user", "content": f"<image>\n{question}" if not turns else question})
                turns.append({"role": "assistant", "content": qa["answer"].strip()})
            yield {"__key__": key_for("ja-vg-vqa", image_id, start), "jpg": data,
                   "json": {"conversations": turns, "task": "vqa", "source": f"ja-vg-vqa:{image_id}"}}
