"""Stages on datatrove: the document store between stages, the write step, the funnel from stats."""

from __future__ import annotations

import contextlib

import datasets
from datatrove.data import Document, Media, MediaType
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from PIL import Image

from dataset_builders.dataset_folder import finalize_dataset
from dataset_builders.images import encode_jpeg
from dataset_builders.pipeline.document_store import LoadDocuments, SaveDocuments, read_documents
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.pipeline.write_shards import WriteShards
from dataset_builders.schema import PAIRS
from model_cards.dataset_card import DatasetCardInfo


def make_doc(i: int) -> Document:
    media = [
        Media(id=f"{i}-{k}", type=MediaType.IMAGE, url=f"http://example.invalid/{i}/{k}.jpg", alt=f"画像{i}-{k}",
              media_bytes=encode_jpeg(Image.new("RGB", (20 + k, 20), (i * 10 % 256, k * 60, 0))), metadata={"k": k})
        for k in range(i % 3)
    ]
    return Document(text=f"文書{i}です。", id=f"doc{i}", media=media, metadata={"n": i, "tags": ["a", "b"]})


class Generate(PipelineStep):
    name = "generate"
    type = "reader"

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def run(self, data=None, rank=0, world_size=1):
        for i in range(rank, self.n, world_size):
            yield make_doc(i)


class DropOdd(BaseFilter):
    name = "drop odd"

    def filter(self, doc):
        return doc.metadata["n"] % 2 == 0 or (False, "odd")


class DropSecondImage(PipelineStep):
    name = "drop second image"
    type = "filter"

    def run(self, data, rank=0, world_size=1):
        for doc in data:
            kept = []
            for k, m in enumerate(doc.media):
                if k == 1:
                    self.stat_update("media_dropped_second")
                else:
                    self.stat_update("media_kept")
                    kept.append(m)
            doc.media = kept
            yield doc


def test_document_store_round_trips_text_metadata_and_bytes(tmp_path):
    docs = [make_doc(i) for i in range(7)]
    list(SaveDocuments(tmp_path)(iter(docs), rank=3))
    assert [p.name for p in tmp_path.iterdir()] == ["00003.docs.tar"]
    back = list(read_documents(tmp_path / "00003.docs.tar"))
    assert [(d.id, d.text, d.metadata) for d in back] == [(d.id, d.text, d.metadata) for d in docs]
    assert [[(m.url, m.alt, m.media_bytes, m.metadata) for m in d.media] for d in back] == [
        [(m.url, m.alt, m.media_bytes, m.metadata) for m in d.media] for d in docs
    ]
    # files are spread over the tasks of the next stage
    list(SaveDocuments(tmp_path)(iter(docs[:2]), rank=0))
    seen = [d.id for r in range(2) for d in LoadDocuments(tmp_path)(rank=r, world_size=2)]
    assert sorted(seen) == sorted([d.id for d in docs] + ["doc0", "doc1"])


def test_interrupted_store_leaves_no_file(tmp_path):
    def failing():
        yield make_doc(0)
        raise RuntimeError("killed")

    with contextlib.suppress(RuntimeError):
        list(SaveDocuments(tmp_path)(failing(), rank=0))
    assert not list(tmp_path.glob("*.docs.tar"))


def pairs_sample(doc: Document) -> dict:
    if not doc.media:
        return {"__key__": doc.id, "txt": doc.text}
    m = doc.media[0]
    return {"__key__": doc.id, "jpg": m.media_bytes, "txt": m.alt, "json": {"url": m.url}}


def test_stage_funnel_and_write_step_add_up(tmp_path):
    out, work = tmp_path / "ds", tmp_path / "work"
    pipeline = [Generate(20), DropOdd(), DropSecondImage(), WriteShards(out, PAIRS, pairs_sample, max_samples=3)]
    funnel = run_stage("build", pipeline, work, ExecutorConfig(tasks=2))
    rows = {s.name: s.to_dict() for s in funnel.stages}
    assert rows["drop odd"] == {"stage": "drop odd", "input": 20, "kept": 10, "dropped": {"odd": 10}}
    # even docs 0..18 carry i % 3 images: 0 → 0, 2 → 2, 4 → 1, 6 → 0, 8 → 2, 10 → 1, ...
    assert rows["drop second image (images)"]["dropped"] == {"second": 3}
    # documents without an image cannot become pairs: the writer counts them
    assert rows["write shards"]["input"] == 10 and rows["write shards"]["dropped"] == {"missing_image": 4}
    assert funnel.problems() == []


    stats = finalize_dataset(out, PAIRS, DatasetCardInfo("t", "d"), funnel=funnel)
    assert stats["samples"] == 6 == len(datasets.load_dataset(str(out), split="train"))
    assert stats["funnel"] == funnel.to_list()

    # a second run skips the completed tasks and reports the same funnel
    again = run_stage("build", pipeline, work, ExecutorConfig(tasks=2))
    assert again.to_list() == funnel.to_list()


def test_a_failing_conversion_is_counted_not_fatal(tmp_path):
    def explode(doc):
        if doc.metadata["n"] == 3:
            raise KeyError("boom")
        return pairs_sample(doc)

    funnel = run_stage("w", [Generate(6), WriteShards(tmp_path / "ds", PAIRS, explode)], tmp_path / "work", ExecutorConfig())
    assert funnel.stage("write shards").dropped["sample_error"] == 1
