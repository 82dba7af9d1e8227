"""Build ``ja-instruct``: instruction conversations as WebDataset shards + a dataset card.

Three sources (LLM-jp-3 VILA §3 指示データ):

* ``coco``   — LLaVA-style generation from COCO captions + boxes by a text-only LLM
  (conversation, detail, complex_reasoning);
* ``photos`` — a VLM sees each photo and writes a multi-turn Japanese conversation
  (Japanese-photos-conv);
* ``vqa``    — existing VQA pairs (JA-VG-VQA style) converted without an LLM.

Every sample: ``jpg`` + ``json`` {conversations [{role, content}] (the first user turn starts with
``<image>\\n``), task, source, image_id, generator, prompt_version}.

Resume: the ShardWriter skips committed samples (their requests are not even built) and the LLM
cache answers every request finished before a kill, so a re-run sends only what is missing.
Images are handled in batches of ``batch_size``; a batch's requests run concurrently and its
samples are written in input order, so the shards are deterministic.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Value

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.errors import UserInputError
from dataset_builders.funnel import Funnel
from dataset_builders.images import ImageError, as_jpeg_bytes
from dataset_builders.instruct import prompts_coco, prompts_photos
from dataset_builders.instruct.annotations import ImageAnnotation, read_annotations
from dataset_builders.instruct.answers import PhotoConversation
from dataset_builders.instruct.config import SOURCES, InstructConfig
from dataset_builders.instruct.photos import downscale_for_model, iter_photos
from dataset_builders.instruct.vqa import (
    CONVERSION_VERSION,
    EvalExclusion,
    conversations,
    read_vqa,
    resolve_image,
)
from dataset_builders.keys import make_key
from dataset_builders.llm.client import LLMClient
from dataset_builders.llm.request import LLMRequest, LLMResult
from dataset_builders.llm.secrets import Secret
from dataset_builders.schema import INSTRUCT, Field
from dataset_builders.shard_writer import ShardWriter
from model_cards.dataset_card import DatasetCardInfo

logger = logging.getLogger(__name__)

INSTRUCT_SCHEMA = INSTRUCT.with_json_fields(
    image_id=Field(Value("string"), "id of the image in its source dataset"),
    generator=Field(Value("string"), "model that wrote the conversation (null: converted, no model)"),
    prompt_version=Field(Value("string"), "version of the prompt the conversation was generated with"),
)

DEFAULT_SOURCE_NAMES = {"coco": "coco2014", "photos": "photos", "vqa": "ja-vg-vqa"}
DEFAULT_TERMS = {
    "coco": "COCO 2014 captions and instance annotations: CC BY 4.0 (https://cocodataset.org/#termsofuse); "
            "images: Flickr, each under its own licence (COCO terms of use).",
    "photos": "Photos given as input: each under its own licence (list the terms in source_terms).",
    "vqa": "JA-VG-VQA (https://github.com/yahoojapan/ja-vg-vqa): CC BY 4.0; images: Visual Genome, CC BY 4.0.",
}


@dataclass
class _Job:
    key: str
    image_id: str
    task: str
    jpg: bytes | None = None
    request: LLMRequest | None = None
    turns: list[dict[str, str]] | None = None  # ready conversation (vqa), no LLM
    done: bool = False  # committed by an earlier run


class _Build:
    """State of one build: config, funnel, writer, client."""

    def __init__(self, source: str, config: InstructConfig, writer: ShardWriter, images_dir: Path | None):
        self.source = source
        self.config = config
        self.writer = writer
        self.images_dir = images_dir
        self.funnel = Funnel()
        self.read_counts: Counter[str] = Counter()
        self.source_name = config.source_name or DEFAULT_SOURCE_NAMES[source]
        self.exclusion = EvalExclusion.from_files(list(config.eval_exclude)) if config.eval_exclude else None

    # -- shared steps ---------------------------------------------------------------------------
    def key(self, image_id: str, task: str) -> str:
        return make_key(self.source_name, image_id, task)

    def excluded(self, image_id: str, data: bytes | None) -> bool:
        """Drop evaluation images (counted ``eval_image``); True when excluded."""
        if self.exclusion is None:
            return False
        if self.exclusion.excludes(image_id, data):
            self.funnel.stage("eval_exclusion").drop("eval_image")
            logger.info("image %s is in an evaluation set; not used", image_id)
            return True
        self.funnel.stage("eval_exclusion").keep()
        return False

    def load_jpeg(self, image_id: str, data: bytes | None) -> bytes | None:
        stage = self.funnel.stage("image")
        if data is None:
            stage.drop("missing_image")
            logger.warning("image %s not found under %s; skipped", image_id, self.images_dir)
            return None
        try:
            jpg = as_jpeg_bytes(data)
        except ImageError as e:
            stage.drop(f"image_{e.reason}")
            logger.warning("image %s unusable (%s); skipped", image_id, e)
            return None
        stage.keep()
        return jpg

    def count_done_image(self) -> None:
        """An image whose samples an earlier run committed: counted as it was then, not re-read."""
        if self.exclusion is not None:
            self.funnel.stage("eval_exclusion").keep()
        self.funnel.stage("image").keep()

    def _limit(self, n: int) -> bool:
        return self.config.max_items is not None and n >= self.config.max_items

    # -- sources --------------------------------------------------------------------------------
    def coco_jobs(self, inputs: list[Path]) -> Iterator[_Job]:
        if self.images_dir is None:
            raise UserInputError("--source coco needs --images DIR: the COCO images the annotations refer to "
                             "(the LLM sees only the text, but every sample carries its image)")
        for n, ann in enumerate(read_annotations(inputs, self.read_counts)):
            if self._limit(n):
                break
            keys = {t: self.key(ann.image_id, t) for t in self.config.coco_tasks}
            if all(k in self.writer.done_keys for k in keys.values()):
                self.count_done_image()
                yield from (_Job(k, ann.image_id, t, done=True) for t, k in keys.items())
                continue
            path = self._coco_image(ann)
            data = path.read_bytes() if path else None
            if self.excluded(ann.image_id, data):
                continue
            jpg = self.load_jpeg(ann.image_id, data)
            if jpg is None:
                continue
            for task, key in keys.items():
                if key in self.writer.done_keys:
                    yield _Job(key, ann.image_id, task, done=True)
                    continue
                request = LLMRequest(prompts_coco.build_messages(task, ann), prompts_coco.SCHEMAS[task],
                                     label=f"coco:{ann.image_id}:{task}")
                yield _Job(key, ann.image_id, task, jpg=jpg, request=request)

    def _coco_image(self, ann: ImageAnnotation) -> Path | None:
        assert self.images_dir is not None
        name = Path(ann.file_name).name
        candidates = [self.images_dir / ann.file_name, self.images_dir / name]
        if ann.image_id.isdigit():
            iid = int(ann.image_id)
            candidates += [self.images_dir / f"{iid:012d}.jpg"] + [
                self.images_dir / f"COCO_{split}_{iid:012d}.jpg" for split in ("train2014", "val2014")
            ]
        return next((c for c in candidates if c.is_file()), None)

    def photo_jobs(self, inputs: list[Path]) -> Iterator[_Job]:
        for n, (image_id, data) in enumerate(iter_photos(inputs, self.read_counts)):
            if self._limit(n):
                break
            key = self.key(image_id, "photo_conversation")
            if key in self.writer.done_keys:
                self.count_done_image()
                yield _Job(key, image_id, "photo_conversation", done=True)
                continue
            if self.excluded(image_id, data):
                continue
            jpg = self.load_jpeg(image_id, data)
            if jpg is None:
                continue
            model_image = downscale_for_model(jpg, self.config.photo_max_side)
            request = LLMRequest(prompts_photos.build_messages(model_image, self.config.photo_detail),
                                 PhotoConversation, label=f"photos:{image_id}")
            yield _Job(key, image_id, "photo_conversation", jpg=jpg, request=request)

    def vqa_jobs(self, inputs: list[Path]) -> Iterator[_Job]:
        if self.exclusion is None:
            logger.warning("no eval_exclude list given: evaluation images (e.g. JA-VG-VQA-500) are NOT filtered out")
        for n, item in enumerate(read_vqa(inputs, self.read_counts)):
            if self._limit(n):
                break
            convs = conversations(item, self.config.vqa_max_turns, self.config.vqa_answer_instruction)
            keys = [self.key(item.image_id, f"vqa-{i}") for i in range(len(convs))]
            if keys and all(k in self.writer.done_keys for k in keys):
                self.count_done_image()
                self.funnel.stage("convert").keep()
                yield from (_Job(k, item.image_id, "vqa", done=True) for k in keys)
                continue
            path = resolve_image(self.images_dir, item)
            data = path.read_bytes() if path else None
            if self.excluded(item.image_id, data):
                continue
            jpg = self.load_jpeg(item.image_id, data)
            if jpg is None:
                continue
            if not convs:
                self.funnel.stage("convert").drop("no_qa")
                continue
            self.funnel.stage("convert").keep()
            for key, turns in zip(keys, convs, strict=True):
                yield _Job(key, item.image_id, "vqa", jpg=jpg, turns=turns, done=key in self.writer.done_keys)

    # -- writing --------------------------------------------------------------------------------
    def write(self, job: _Job, result: LLMResult | None, generator: str | None, prompt_version: str) -> None:
        if job.done:
            # committed by an earlier run: counted as the writer would count it, nothing is rebuilt
            if self.source != "vqa":
                self.funnel.stage("generate").keep()
            for name in ("input", "kept", "already_written"):
                self.writer.counts[name] += 1
            return
        turns = job.turns
        if job.request is not None:
            stage = self.funnel.stage("generate")
            assert result is not None
            if not result.ok:
                stage.drop(result.reason or result.status)
                return
            stage.keep()
            turns = to_turns(job.task, job.image_id, result.value)
        assert turns is not None
        meta = {"conversations": turns, "task": job.task, "source": self.source_name, "image_id": job.image_id,
                "generator": generator, "prompt_version": prompt_version}
        self.writer.write({"__key__": job.key, "jpg": job.jpg, "json": meta})


def to_turns(task: str, image_id: str, value: Any) -> list[dict[str, str]]:
    """The model's answer as INSTRUCT turns; the first user turn starts with ``<image>\\n``."""
    if task == "detail":
        pairs = [(prompts_coco.detail_question(image_id), value.description)]
    elif task == "complex_reasoning":
        pairs = [(value.question, value.answer)]
    else:
        pairs = [(t.question, t.answer) for t in value.turns]
    turns: list[dict[str, str]] = []
    for q, a in pairs:
        turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    turns[0]["content"] = "<image>\n" + turns[0]["content"]
    return turns


def _batches(jobs: Iterator[_Job], size: int) -> Iterator[list[_Job]]:
    batch: list[_Job] = []
    images: set[str] = set()
    for job in jobs:
        if job.image_id not in images and len(images) >= size:
            yield batch
            batch, images = [], set()
        batch.append(job)
        images.add(job.image_id)
    if batch:
        yield batch


def build_instruct(
    source: str,
    inputs: list[str | os.PathLike] | str | os.PathLike,
    output_dir: str | os.PathLike,
    config: InstructConfig | None = None,
    images_dir: str | os.PathLike | None = None,
    rank: int = 0,
    secret: Secret | None = None,
    finalize: bool = True,
) -> dict[str, Any]:
    """Build (or resume) ``ja-instruct`` from ``source`` into ``output_dir``; returns the stats.

    ``secret`` overrides the API key read from the environment (``config.llm.key_env``). The LLM
    cache lives in ``config.llm.cache_dir`` (relative: under ``output_dir``).
    """
    if source not in SOURCES:
        raise UserInputError(f"unknown source {source!r}; use one of {SOURCES}")
    config = config or InstructConfig()
    inputs = [Path(p) for p in (inputs if isinstance(inputs, list | tuple) else [inputs])]
    return asyncio.run(_build(source, inputs, Path(output_dir), config,
                              Path(images_dir) if images_dir else None, rank, secret, finalize))


async def _build(source: str, inputs: list[Path], output_dir: Path, config: InstructConfig, images_dir: Path | None,
                 rank: int, secret: Secret | None, finalize: bool) -> dict[str, Any]:
    output_dir.mkdir(parents=True, exist_ok=True)
    needs_llm = source != "vqa"
    client = None
    if needs_llm:
        cache_dir = config.llm.cache_dir
        if cache_dir is not None and not Path(cache_dir).is_absolute():
            cache_dir = str(output_dir / cache_dir)
        client = LLMClient(config.llm, cache_dir=cache_dir, secret=secret)
    generator = config.llm.model if needs_llm else None
    prompt_version = {"coco": prompts_coco.PROMPT_VERSION, "photos": prompts_photos.PROMPT_VERSION,
                      "vqa": CONVERSION_VERSION}[source]
    with ShardWriter(output_dir, INSTRUCT_SCHEMA, rank=rank, max_samples=config.shard_max_samples) as writer:
        build = _Build(source, config, writer, images_dir)
        jobs = {"coco": build.coco_jobs, "photos": build.photo_jobs, "vqa": build.vqa_jobs}[source](inputs)
        try:
            for batch in _batches(jobs, config.batch_size):
                todo = [j for j in batch if j.request is not None and not j.done]
                results = await client.complete_many([j.request for j in todo]) if client and todo else []
                by_key = {j.key: r for j, r in zip(todo, results, strict=True)}
                for job in batch:
                    build.write(job, by_key.get(job.key), generator, prompt_version)
        finally:
            if client is not None:
                await client.aclose()
    # after the with-block (which committed the last shard): record this run's stages with the counts
    funnel = Funnel()
    funnel.add_counts(f"read_{source}", build.read_counts)
    funnel = funnel + build.funnel
    writer_summary = writer.close(funnel)
    usage = client.usage.to_dict() if client else None
    if client is not None:
        logger.info(client.usage.summary())
        if client.budget.refused:
            logger.warning("budget exhausted: %d request(s) not sent; the dataset holds what was generated before",
                           client.budget.refused)
    extra = {"source": build.source_name, "generator": generator, "prompt_version": prompt_version,
             "llm_usage": usage, "counts": _flat_counts(funnel, writer_summary["counts"])}
    if not finalize:
        return extra
    info = DatasetCardInfo(
        pretty_name=config.pretty_name,
        description=config.description or _description(source, generator, prompt_version),
        repo_id=config.repo_id,
        license=config.license,
        thresholds=_card_facts(source, config, generator, prompt_version, usage),
        sources=[DEFAULT_TERMS[source], *config.source_terms]
        + ([f"Text generated by `{generator}` through an OpenAI-compatible API; the provider's terms of use "
            "apply to generated outputs."] if generator else []),
    )
    stats = finalize_dataset(output_dir, INSTRUCT_SCHEMA, info, extra_stats=extra)
    return stats


def _flat_counts(funnel: Funnel, writer_counts: dict[str, int]) -> dict[str, int]:
    """Every drop reason as ``dropped_<reason>`` over all stages, plus the writer's counts."""
    flat: Counter[str] = Counter()
    for stage in funnel.stages:
        for reason, n in stage.dropped.items():
            flat[f"dropped_{reason}"] += n
    flat.update({f"written_{k}" if not k.startswith("dropped_") else k: v for k, v in writer_counts.items()})
    return dict(sorted(flat.items()))


def _description(source: str, generator: str | None, prompt_version: str) -> str:
    what = {
        "coco": "LLaVA-style Japanese instruction data (conversations, detailed descriptions and complex "
                "reasoning) generated from COCO captions and bounding boxes by a text-only LLM",
        "photos": "Multi-turn Japanese conversations about photos, written by a vision-language model that "
                  "sees each photo (as Japanese-photos-conv)",
        "vqa": "Existing Japanese VQA pairs converted into conversations; evaluation images excluded",
    }[source]
    gen = f" Generator: `{generator}`, prompt version `{prompt_version}`." if generator else \
        f" Conversion version `{prompt_version}`."
    return f"{what}, as in LLM-jp-3 VILA §3 (指示データ).{gen}"


def _card_facts(source: str, config: InstructConfig, generator: str | None, prompt_version: str,
                usage: dict[str, Any] | None) -> dict[str, str]:
    facts = {"source": source, "prompt version": f"`{prompt_version}`"}
    if generator:
        facts["generator model"] = f"`{generator}` ({config.llm.provider})"
        facts["sampling"] = f"temperature {config.llm.temperature}, max_tokens {config.llm.max_tokens}, seed {config.llm.seed}"
        facts["structured output"] = f"{config.llm.response_format}; malformed or refused answers asked again up to {config.llm.max_parse_retries} times, then dropped"
    if source == "coco":
        facts["tasks"] = ", ".join(config.coco_tasks)
    if source == "vqa":
        facts["answer instruction"] = config.vqa_answer_instruction or "(none)"
    if config.eval_exclude:
        facts["evaluation images excluded"] = f"listed in {len(config.eval_exclude)} file(s) (by id or image hash)"
    if usage:
        cost = usage.get("estimated_cost_usd")
        facts["LLM usage (last run)"] = (f"{usage['requests']} requests, {usage['cache_hits']} cache hits, "
                                         f"{usage['tokens_in']} tokens in / {usage['tokens_out']} out"
                                         + (f", about ${cost:.2f}" if cost is not None else ""))
    return facts
