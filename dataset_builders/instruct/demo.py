"""``ja-instruct`` for the demo: photo conversations + LLaVA-style COCO samples from an
OpenAI-compatible server at ``server_url`` (the demo starts a scripted one on loopback and passes its URL).

    stats = build_demo_instruct("demo-out/ja-instruct", "demo-out/images", server_url)
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.instruct import prompts_coco, prompts_photos
from dataset_builders.instruct.builder import DEFAULT_TERMS, INSTRUCT_SCHEMA, build_instruct
from dataset_builders.instruct.config import InstructConfig
from dataset_builders.llm.config import LLMConfig
from model_cards.dataset_card import DatasetCardInfo

#: A few COCO-style annotations written for the demo (captions in COCO's English style, boxes
#: normalised [x1, y1, x2, y2]); their images are synthetic stand-ins.
DEMO_ANNOTATIONS: list[dict[str, Any]] = [
    {"id": "demo-0001", "image": "demo-0001.jpg",
     "captions": ["Two people walking a dog along a river path.", "A man and a woman walk their dog by the water.",
                  "People strolling with a small dog on a sunny day."],
     "instances": [{"category": "person", "bbox": [0.20, 0.30, 0.35, 0.90]},
                   {"category": "person", "bbox": [0.40, 0.28, 0.55, 0.92]},
                   {"category": "dog", "bbox": [0.60, 0.70, 0.75, 0.92]}]},
    {"id": "demo-0002", "image": "demo-0002.jpg",
     "captions": ["A plate with sushi and a cup of green tea on a wooden table.",
                  "Sushi served on a plate next to a tea cup."],
     "instances": [{"category": "dining table", "bbox": [0.00, 0.40, 1.00, 1.00]},
                   {"category": "cup", "bbox": [0.70, 0.35, 0.85, 0.60]},
                   {"category": "bowl", "bbox": [0.15, 0.45, 0.45, 0.70]}]},
    {"id": "demo-0003", "image": "demo-0003.jpg",
     "captions": ["A train stopped at a station platform with people waiting.",
                  "Passengers wait on the platform as the train arrives."],
     "instances": [{"category": "train", "bbox": [0.30, 0.10, 1.00, 0.80]},
                   {"category": "person", "bbox": [0.05, 0.40, 0.15, 0.95]},
                   {"category": "person", "bbox": [0.16, 0.42, 0.25, 0.93]},
                   {"category": "clock", "bbox": [0.05, 0.02, 0.12, 0.12]}]},
]


def _write_photos(images: str | os.PathLike | Iterable[tuple[str, Any]], folder: Path) -> Path:
    if isinstance(images, str | os.PathLike):
        return Path(images)
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in images:
        if isinstance(image, Image.Image):
            buf = io.BytesIO()
            image.convert("RGB").save(buf, format="JPEG", quality=90)
            image = buf.getvalue()
        (folder / f"{Path(name).stem}.jpg").write_bytes(bytes(image))
    return folder


def build_demo_instruct(
    out_dir: str | os.PathLike,
    images: str | os.PathLike | Iterable[tuple[str, Any]],
    server_url: str,
    model: str = "scripted-vlm",
    max_photos: int | None = 8,
) -> dict[str, Any]:
    """Build ``ja-instruct`` in ``out_dir`` (photos → rank 0, demo COCO annotations → rank 1).

    Args:
        out_dir: the dataset folder (shards, README.md, stats.json, llm_cache/).
        images: a folder of photos (or of WebDataset shards), or ``(name, bytes | PIL.Image)`` pairs.
        server_url: base URL of an OpenAI-compatible server (the demo's scripted one).
        model: the model name sent (and recorded as the generator).
        max_photos: use at most this many photos.

    Returns the stats of the finished folder (``samples``, ``shards``, ``funnel``) plus
    ``llm_usage`` per source. Re-running is free: everything comes from the cache / shards.
    """
    from dataset_builders.tiny.synthetic_images import make_image

    out_dir = Path(out_dir)
    llm = LLMConfig(provider="openai_compatible", base_url=server_url, model=model, concurrency=4, timeout_s=10,
                    max_retries=2, backoff_base_s=0.1, backoff_max_s=1.0)
    usage: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ja-instruct-demo-") as tmp:
        tmp_path = Path(tmp)
        photos = _write_photos(images, tmp_path / "photos")
        cfg = InstructConfig(llm=llm, max_items=max_photos, batch_size=8, shard_max_samples=50)
        usage["photos"] = build_instruct("photos", photos, out_dir, cfg, rank=0, finalize=False)["llm_usage"]
        coco_images = tmp_path / "coco_images"
        coco_images.mkdir()
        ann = tmp_path / "demo_caps_boxes.jsonl"
        ann.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in DEMO_ANNOTATIONS), encoding="utf-8")
        for a in DEMO_ANNOTATIONS:
            (coco_images / a["image"]).write_bytes(make_image(a["id"], 480, 360))
        cfg = InstructConfig(llm=llm, source_name="demo-coco-style", batch_size=8, shard_max_samples=50)
        usage["coco"] = build_instruct("coco", ann, out_dir, cfg, images_dir=coco_images, rank=1,
                                       finalize=False)["llm_usage"]
    info = DatasetCardInfo(
        pretty_name="ja-instruct (demo)",
        description="Demo build of ja-instruct: multi-turn Japanese conversations about photos and LLaVA-style "
                    "samples from COCO-style annotations, generated by a *scripted* local server (not a model): "
                    "it shows the format, not the quality.",
        thresholds={"generator": f"`{model}` (scripted OpenAI-compatible server)",
                    "prompt versions": f"`{prompts_photos.PROMPT_VERSION}`, `{prompts_coco.PROMPT_VERSION}`"},
        sources=[DEFAULT_TERMS["photos"], "Demo annotations written for ja-vila; synthetic images."],
        warnings=["Generated by a scripted local server, not a language model: the conversations show the format, "
                  "they are not training data."],
    )
    stats = finalize_dataset(out_dir, INSTRUCT_SCHEMA, info, extra_stats={"llm_usage": usage})
    return stats
