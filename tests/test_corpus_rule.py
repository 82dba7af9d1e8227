"""The corpus-rule protocol: collect per task → merge over all tasks → apply per document."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from datatrove.data import Document, Media, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.corpus_rule import CollectRows, CorpusRule
from dataset_builders.pipeline.image_domains import FrequentImageDomains
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage


class FrequentTexts(CorpusRule):
    """A document rule in a few lines: texts seen >= 3 times in the corpus are dropped."""

    name = "frequent_texts"
    title = "🔁 frequent texts"

    def collect(self, doc):
        yield doc.text

    def decide(self, rows):
        return sorted(t for t, n in Counter(rows).items() if n >= 3)

    def decision_from_json(self, data):
        return set(data)

    def drop_document(self, doc, decision):
        return "frequent_text" if doc.text in decision else None


def make_docs(n: int = 40, seed: int = 0) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        host = rng.choice(["big.test"] * 5 + ["a.test", "b.test", "c.test"])
        media = [Media(id=f"{i}-{k}", type=MediaType.IMAGE, url=f"http://{host}/{i}/{k}.jpg") for k in range(2)]
        docs.append(Document(text=f"t{rng.randrange(12)}", id=f"d{i:03d}", media=media))
    return docs


def collect_apply(rule: CorpusRule, docs: list[Document], tasks: int) -> tuple[list[Document], list[PipelineStep]]:
    for rank in range(tasks):
        list(rule.collect_step().run(iter(docs[rank::tasks]), rank=rank, world_size=tasks))
    rule.merge(tasks)
    steps = [rule.apply_step() for _ in range(tasks)]
    out = [d for rank, step in enumerate(steps) for d in step.run(iter(docs[rank::tasks]), rank=rank, world_size=tasks)]
    return out, steps


def total(steps: list[PipelineStep], name: str) -> int:
    return sum(int(s.stats.stats[name].total) for s in steps if s.stats.stats.get(name) is not None)


def test_document_rule_same_result_for_one_and_three_tasks(tmp_path):
    docs = make_docs()
    one, steps1 = collect_apply(FrequentTexts(tmp_path / "one"), make_docs(), 1)
    three, steps3 = collect_apply(FrequentTexts(tmp_path / "three"), list(reversed(make_docs())), 3)
    assert sorted(d.id for d in one) == sorted(d.id for d in three)
    counts = Counter(d.text for d in docs)
    assert sorted(d.id for d in one) == sorted(d.id for d in docs if counts[d.text] < 3)
    dropped = sum(1 for d in docs if counts[d.text] >= 3)
    assert 0 < dropped < len(docs)
    for steps in (steps1, steps3):
        assert total(steps, "total") == len(docs) and total(steps, "dropped_frequent_text") == dropped
        assert total(steps, "forwarded") == len(docs) - dropped
    # the rule owns its folder: rows per task, one decision
    rows = sorted(p.name for p in (tmp_path / "three" / "rules" / "frequent_texts" / "rows").iterdir())
    assert rows == ["00000-of-00003.jsonl", "00001-of-00003.jsonl", "00002-of-00003.jsonl"]
    assert (tmp_path / "three" / "rules" / "frequent_texts" / "decision.json").is_file()


def test_merge_checks_that_every_task_of_one_run_wrote_its_rows(tmp_path):
    rule, docs = FrequentTexts(tmp_path), make_docs(9)
    with pytest.raises(FileNotFoundError, match="collect step"):
        rule.merge()
    with pytest.raises(FileNotFoundError, match="merge"):
        list(rule.apply_step().run(iter(docs)))  # before the first document
    list(rule.collect_step().run(iter(docs[0::3]), rank=0, world_size=3))
    list(rule.collect_step().run(iter(docs[2::3]), rank=2, world_size=3))
    with pytest.raises(ValueError, match=r"incomplete.*\[1\] of 3"):
        rule.merge()
    list(rule.collect_step().run(iter(docs[1::3]), rank=1, world_size=3))
    assert rule.merge(3) is not None
    with pytest.raises(ValueError, match="3 task.*this run has 2"):
        rule.merge(2)
    list(rule.collect_step().run(iter(docs), rank=0, world_size=1))  # a file of another run
    with pytest.raises(ValueError, match="different task counts"):
        rule.merge()


def test_a_killed_task_leaves_no_rows(tmp_path):
    rule = FrequentTexts(tmp_path)
    stream = rule.collect_step().run(iter(make_docs(5)), rank=0, world_size=1)
    next(stream)
    stream.close()  # the task dies mid-stream
    assert not rule.rows_path(0, 1).exists()


def test_frequent_image_domains_combines_counts_and_drops_before_download(tmp_path):
    cfg = DownloadConfig(frequent_domain_max_share=0.4, frequent_domain_min_urls=10)
    docs = make_docs(60)
    urls = Counter(m.url.split("/")[2] for d in docs for m in d.media)
    assert urls["big.test"] > 0.4 * sum(urls.values()) > max(urls["a.test"], urls["b.test"], urls["c.test"])
    CollectRows.combine_every = 7  # combine inside the task too, not only at its end
    try:
        one, steps1 = collect_apply(FrequentImageDomains(tmp_path / "one", cfg), make_docs(60), 1)
        three, steps3 = collect_apply(FrequentImageDomains(tmp_path / "three", cfg), make_docs(60), 3)
    finally:
        CollectRows.combine_every = 100_000
    rule = FrequentImageDomains(tmp_path / "three", cfg)
    assert rule.load_decision() == {"big.test"}
    # per task, one row per domain: [domain, count]
    rows = [line for p in (rule.folder / "rows").iterdir() for line in p.read_text().splitlines()]
    assert len(rows) <= 3 * 4
    for out, steps in ((one, steps1), (three, steps3)):
        assert len(out) == 60  # a media rule keeps every document
        assert all("big.test" not in m.url for d in out for m in d.media)
        assert total(steps, "media_dropped_frequent_domain") == urls["big.test"]
        assert total(steps, "media_kept") == sum(urls.values()) - urls["big.test"]


class Generate(PipelineStep):
    name = "generate"

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        yield from make_docs()[rank::world_size]


def test_funnel_shows_the_rule_by_its_title_on_the_executor(tmp_path):
    rule, ex = FrequentTexts(tmp_path), ExecutorConfig(tasks=2)
    run_stage("collect", [Generate(), rule.collect_step()], tmp_path, ex)
    rule.merge(ex.tasks)
    funnel = run_stage("apply", [Generate(), rule.apply_step()], tmp_path, ex)
    stage = {s.name: s for s in funnel.stages}["🔁 frequent texts"]
    counts = Counter(d.text for d in make_docs())
    assert stage.input == 40 and stage.dropped == {"frequent_text": sum(n for n in counts.values() if n >= 3)}
    assert funnel.problems() == []
