"""Config of ``ja-vila build instruct`` (YAML preset: ``configs/data/instruct.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dataset_builders.llm.config import LLMConfig

SOURCES = ("coco", "photos", "vqa")


@dataclass
class InstructConfig:
    """What to generate and how.

    Attributes:
        llm: the generator endpoint, model, retries, cache and budget (see ``LLMConfig``).
        coco_tasks: LLaVA tasks per COCO image (``conversation``, ``detail``, ``complex_reasoning``).
        photo_max_side: photos are downscaled to this longest side before they are sent (cost);
            the dataset keeps the original.
        photo_detail: OpenAI image ``detail`` (``low``/``high``/``auto``; None: the server default).
        vqa_max_turns: QA pairs per converted sample (more pairs make further samples).
        vqa_answer_instruction: appended to each converted VQA question (LLaVA-1.5 does this for
            short-answer data so the model learns when to be brief); empty: nothing appended.
        eval_exclude: files listing evaluation images (ids or SHA-256/MD5 hashes of the image
            bytes; txt, JSON list or JSONL) that must never be in training data (JA-VG-VQA-500).
        max_items: stop after this many input images (None: all).
        batch_size: images handled per concurrent batch (results are written in input order).
        shard_max_samples: samples per WebDataset shard.
        source_name: the ``source`` field of every sample (default: coco2014 / photos / ja-vg-vqa).
        source_terms: licence lines for the card's "Sources and terms" (defaults per source).
        pretty_name / description / repo_id / license: dataset card fields.
    """

    llm: LLMConfig = field(default_factory=LLMConfig)
    coco_tasks: tuple[str, ...] = ("conversation", "detail", "complex_reasoning")
    photo_max_side: int = 1024
    photo_detail: str | None = None
    vqa_max_turns: int = 8
    vqa_answer_instruction: str = "単語または短い文で答えてください。"
    eval_exclude: tuple[str, ...] = ()
    max_items: int | None = None
    batch_size: int = 64
    shard_max_samples: int = 1000
    source_name: str | None = None
    source_terms: tuple[str, ...] = ()
    pretty_name: str = "ja-instruct"
    description: str = ""
    repo_id: str = "ORG/ja-instruct"
    license: str = "unknown"  # set at release: ja-vila release dataset --license

    def __post_init__(self) -> None:
        from dataset_builders.instruct.prompts_coco import TASKS

        unknown = [t for t in self.coco_tasks if t not in TASKS]
        if unknown or not self.coco_tasks:
            raise ValueError(f"coco_tasks {list(self.coco_tasks)} must be a non-empty subset of {list(TASKS)}")
        if self.batch_size < 1 or self.shard_max_samples < 1 or self.vqa_max_turns < 1:
            raise ValueError("batch_size, shard_max_samples and vqa_max_turns must be positive")
        if self.photo_max_side < 32:
            raise ValueError("photo_max_side must be at least 32 pixels")
