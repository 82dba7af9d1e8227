"""The evaluation stage of ``ja-vila demo``: a tiny model on small built-in fixture benchmarks.

The fixtures are made from the project's own embedded sample (``dataset_builders/tiny/sample``): its Japanese
image descriptions become questions and reference answers, its image names seed synthetic pictures,
and TextVQA-style items get a word drawn on the picture. They are written in each task's local
folder schema, so the demo runs exactly the code a real evaluation runs — only the data is small.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from PIL import ImageDraw

from dataset_builders.atomic import atomic_write_bytes, atomic_write_text
from eval.evaluate import EvalConfig, evaluate
from eval.metrics.judge import JudgeSettings
from eval.report import to_markdown
from eval.runner import GenerationSettings
from eval.tasks.base import FIXTURE_MARKER

logger = logging.getLogger(__name__)

DEMO_TASKS = ("heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500", "textvqa")
#: The model name the scripted judge server is asked for (it answers any name).
DEMO_JUDGE_MODEL = "scripted-judge"
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_HERON_QUESTIONS = {"conv": "この画像には何が写っていますか？",
                    "detail": "この画像について詳しく説明してください。",
                    "complex": "この写真はどのような場面だと考えられますか？理由も説明してください。"}
_SIGN_WORDS = ("TOKYO", "SALE", "EXIT", "CAFE")


def sample_images(n: int = 6) -> list[dict[str, Any]]:
    """The first ``n`` images of the embedded Japanese sample that have a real description."""
    from dataset_builders.tiny.sample import load_documents

    found = []
    for doc in load_documents():
        if doc.get("lang") != "ja":
            continue
        paragraphs = [b["p"] for b in doc["blocks"] if "p" in b]
        for block in doc["blocks"]:
            img = block.get("img")
            if img and len(img.get("alt") or "") >= 8 and _JAPANESE.search(img["alt"]):
                found.append({"name": img["name"], "alt": img["alt"], "topic": doc.get("topic", ""),
                              "context": paragraphs[0] if paragraphs else ""})
                break  # one image per document: varied topics
        if len(found) >= n:
            break
    return found


def _write_image(path: Path, name: str, word: str | None = None) -> None:
    import io

    from dataset_builders.tiny.synthetic_images import make_pil_image

    im = make_pil_image(name, 96, 72)
    if word:
        draw = ImageDraw.Draw(im)
        draw.rectangle((8, 24, 88, 48), fill=(255, 255, 255))
        draw.text((14, 30), word, fill=(0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def _write_rows(folder: Path, rows: list[dict[str, Any]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "test.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def build_demo_fixtures(root: Path) -> dict[str, Path]:
    """Write the four fixture task folders under ``root``; returns task name → folder."""
    images = sample_images()
    folders = {name: root / name for name in DEMO_TASKS}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / FIXTURE_MARKER, "demo fixture\nQuestions made from the embedded sample; "
                          "synthetic images.\n")
        for img in images:
            _write_image(folder / "images" / f"{img['name']}.jpg", img["name"])
    categories = list(_HERON_QUESTIONS)
    _write_rows(folders["heron_bench"], [
        {"question_id": i, "image": f"images/{img['name']}.jpg", "category": categories[i % 3],
         "image_category": img["topic"], "context": f"{img['alt']}。{img['context']}",
         "text": _HERON_QUESTIONS[categories[i % 3]], "answer": {"reference": f"{img['alt']}が写っています。"}}
        for i, img in enumerate(images)])
    _write_rows(folders["ja_vlm_bench_in_the_wild"], [
        {"question_id": i, "image": f"images/{img['name']}.jpg", "question": "この写真について説明してください。",
         "answer": f"{img['alt']}の写真です。"} for i, img in enumerate(images)])
    _write_rows(folders["ja_vg_vqa_500"], [
        {"image_id": i, "image": f"images/{img['name']}.jpg",
         "qas": [{"qa_id": 2 * i, "question": "何が写っていますか？", "answer": img["alt"]},
                 {"qa_id": 2 * i + 1, "question": "この写真の話題は何ですか？", "answer": img["topic"]}]}
        for i, img in enumerate(images[:3])])
    signs = []
    for i, word in enumerate(_SIGN_WORDS):
        image = f"images/sign_{word.lower()}.jpg"
        _write_image(folders["textvqa"] / image, f"sign-{word}", word)
        answers = [word.lower()] * 8 + [f"the {word.lower()}", f"{word.lower()} sign"]
        signs.append({"question_id": i, "image": image, "question": "what word is written on the sign?",
                      "answers": answers, "ocr_tokens": [word]})
    _write_rows(folders["textvqa"], signs)
    return folders


def run_demo_eval(model_dir: Path, out_dir: Path, judge_base_url: str | None) -> dict[str, Any]:
    """Evaluate ``model_dir`` on the built-in fixtures into ``out_dir`` (``report.json`` and friends).

    With ``judge_base_url`` (an OpenAI-compatible server, e.g. the scripted one the demo starts) the
    judge metrics are computed, otherwise recorded as skipped. Returns the report with its Markdown
    tables under ``"markdown"``.
    """
    out_dir = Path(out_dir)
    folders = build_demo_fixtures(out_dir / "fixtures")
    judge = (JudgeSettings(model=DEMO_JUDGE_MODEL, base_url=judge_base_url, timeout_s=30.0, max_retries=2,
                           backoff_base_s=0.2, backoff_max_s=2.0, scripted=True) if judge_base_url else None)
    config = EvalConfig(model=str(model_dir), out_dir=out_dir, tasks=DEMO_TASKS, judge=judge,
                        data={name: str(folder) for name, folder in folders.items()},
                        generation=GenerationSettings(batch_size=4, max_new_tokens=12, device="cpu"),
                        model_name=Path(model_dir).name)
    report = evaluate(config)
    report["markdown"] = to_markdown(report)
    logger.info("evaluation report: %s", out_dir / "report.json")
    return report
