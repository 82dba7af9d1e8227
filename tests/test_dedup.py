"""Intra-document near-duplicate dedup, near-duplicate counting, and the corpus-wide frequent-image rule."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datatrove.data import Document, Media, MediaType

from dataset_builders.dedup import DedupImagesInDocument, HashedImage, dedup_in_document
from dataset_builders.hamming_index import (
    count_near_duplicates,
    count_near_duplicates_bruteforce,
    group_near_duplicates,
)
from dataset_builders.phash import hamming, to_hex
from dataset_builders.pipeline.frequent_images import (
    FrequentImages,
    FrequentImagesConfig,
    frequent_image_ids,
    image_id,
)


def flip(value: int, n: int, start: int = 0) -> int:
    """``value`` with ``n`` bits flipped (bits start .. start + n - 1)."""
    for b in range(start, start + n):
        value ^= 1 << b
    return value


BASE = 0x0F0F_3C3C_A5A5_9669


# --- grouping and intra-document dedup ----------------------------------------------------------------


def test_hamming_5_is_a_duplicate_6_is_not():
    assert dedup_in_document([HashedImage(BASE, 10, 10), HashedImage(flip(BASE, 5), 20, 20)]) == [1]
    assert dedup_in_document([HashedImage(BASE, 10, 10), HashedImage(flip(BASE, 6), 20, 20)]) == [0, 1]


def test_groups_are_transitive():
    a, b, c = BASE, flip(BASE, 5), flip(BASE, 10)  # a~b, b~c, but a and c are 10 apart
    assert hamming(a, c) == 10
    assert group_near_duplicates([a, c, b]) == [[0, 1, 2]]
    assert group_near_duplicates([a, c]) == [[0], [1]]


def test_highest_resolution_wins_and_ties_go_to_page_order():
    imgs = [HashedImage(BASE, 100, 100), HashedImage(flip(BASE, 1), 300, 200), HashedImage(flip(BASE, 2), 200, 300),
            HashedImage(~BASE & (2**64 - 1), 50, 50)]
    assert dedup_in_document(imgs) == [1, 3]  # 300x200 and 200x300 tie on pixels: the first one stays
    assert dedup_in_document(imgs[:1] + imgs[2:]) == [1, 2]
    assert dedup_in_document([]) == []


def media(i: int, value: int | None, w: int, h: int) -> Media:
    meta = {"width": w, "height": h}
    if value is not None:
        meta["phash"] = to_hex(value)
    return Media(id=f"m{i}", type=MediaType.IMAGE, url=f"http://example.invalid/{i}.jpg", metadata=meta)


def test_step_drops_duplicates_keeps_order_and_counts():
    other = ~BASE & (2**64 - 1)
    doc = Document(text="t", id="d", media=[
        media(0, BASE, 100, 100),
        Media(id="v", type=MediaType.VIDEO, url="http://example.invalid/v.mp4"),
        media(1, other, 200, 200),
        media(2, flip(BASE, 3), 400, 300),   # larger copy of m0
        media(3, None, 10, 10),              # not hashed: kept, counted
        media(4, flip(other, 5), 200, 200),  # tie with m1: m1 stays
    ])
    step = DedupImagesInDocument()
    out = list(step.run([doc]))[0]
    assert [m.id for m in out.media] == ["v", "m1", "m2", "m3"]
    counts = {k: v.total for k, v in step.stats.stats.items()}
    assert counts["media_dropped_duplicate_in_document"] == 2
    assert counts["media_unhashed"] == 1


# --- near-duplicate counting --------------------------------------------------------------------------


def clustered_hashes(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, n, dtype=np.uint64) * np.uint64(2)
    pos = 0
    while pos < n // 2:
        k = int(rng.integers(2, 40))
        for t in range(min(k, n - pos)):
            h[pos + t] = flip(int(h[pos]), int(rng.integers(0, 7)), int(rng.integers(0, 58)))
        pos += k
    return h


@pytest.mark.parametrize("max_distance", [0, 3, 5, 8])
def test_fast_count_equals_bruteforce(max_distance):
    h = clustered_hashes(3000, seed=max_distance)
    fast = count_near_duplicates(h, max_distance)
    assert np.array_equal(fast, count_near_duplicates_bruteforce(h, max_distance))
    assert fast.max() > 0


def test_count_handles_identical_and_empty():
    assert count_near_duplicates([]).tolist() == []
    assert count_near_duplicates([7, 7, 7, flip(7, 5), flip(7, 6, start=10)]).tolist() == [3, 3, 3, 3, 0]


# --- corpus-wide frequent images ----------------------------------------------------------------------


def records(n_copies: int, distance: int = 0, n_noise: int = 50, seed: int = 0) -> list[tuple[str, int, str]]:
    rng = random.Random(seed)
    out = [(f"icon{i}", flip(BASE, distance if i % 2 else 0), "") for i in range(n_copies)]
    out += [(f"photo{i}", rng.getrandbits(64), "") for i in range(n_noise)]
    return out


def test_nine_duplicates_kept_ten_removed():
    removed, _ = frequent_image_ids(records(10))  # each copy has 9 duplicates
    assert removed == set()
    removed, summary = frequent_image_ids(records(11))  # each copy has 10
    assert removed == {f"icon{i}" for i in range(11)}
    assert summary["removed"] == 11 and summary["images"] == 61


def test_near_duplicates_count_at_distance_5_not_6():
    assert len(frequent_image_ids(records(11, distance=5))[0]) == 11
    # at distance 6 the copies split into two groups of 6 and 5: nobody reaches 10
    assert frequent_image_ids(records(11, distance=6))[0] == set()


def test_threshold_and_distance_are_configurable():
    assert len(frequent_image_ids(records(5), min_duplicates=4)[0]) == 5
    assert len(frequent_image_ids(records(11, distance=6), max_distance=6)[0]) == 11


def test_samples_versus_exact_count():
    recs = records(30, n_noise=270)
    exact, s_exact = frequent_image_ids(recs, sample_size=None)
    assert exact == {f"icon{i}" for i in range(30)} and s_exact["samples"] == 1
    # 300 images in samples of at most 25: 12 samples of 25, about 2.5 icons per sample, none with 10
    sampled, s_sampled = frequent_image_ids(recs, sample_size=25)
    assert sampled == set() and s_sampled["samples"] == 12


def test_decision_is_independent_of_record_order_and_depends_on_seed():
    recs = records(80, n_noise=2000)  # 7 samples of ~297 with ~11.4 icons each: some reach 10 duplicates
    base, _ = frequent_image_ids(recs, sample_size=300)
    assert 0 < len(base) < 80
    shuffled = recs[:]
    random.Random(5).shuffle(shuffled)
    assert frequent_image_ids(shuffled, sample_size=300)[0] == base
    seeds = {frozenset(frequent_image_ids(recs, sample_size=300, seed=s)[0]) for s in range(6)}
    assert len(seeds) > 1  # which icons meet in a sample depends on the seeded partition


def test_groups_are_sampled_separately():
    recs = [(f"a{i}", BASE, "2023") for i in range(6)] + [(f"b{i}", BASE, "2024") for i in range(6)]
    assert frequent_image_ids(recs, min_duplicates=10)[0] == set()
    assert len(frequent_image_ids([(i, h, "") for i, h, _ in recs], min_duplicates=10)[0]) == 12


def corpus(n_docs: int = 60) -> list[Document]:
    rng = random.Random(1)
    docs = []
    for d in range(n_docs):
        ms = [media(0, BASE if d % 4 else flip(BASE, 4), 100, 100)]  # an icon on every page
        ms += [media(k, rng.getrandbits(64), 300, 300) for k in range(1, 3)]
        for m in ms:
            m.id = ""  # exercise the fallback id
        docs.append(Document(text="t", id=f"doc{d}", media=ms, metadata={"year": 2024}))
    return docs


def run_pass1(docs: list[Document], work_dir, world_size: int, sample_size: int = 50) -> int:
    rule = FrequentImages(work_dir, FrequentImagesConfig(sample_size=sample_size))
    n = 0
    for rank in range(world_size):
        n += sum(1 for _ in rule.collect_step().run(iter(docs[rank::world_size]), rank=rank, world_size=world_size))
    return n


def test_one_task_and_three_tasks_give_the_same_removal_set(tmp_path):
    docs = corpus()
    assert run_pass1(docs, tmp_path / "w1", 1) == 60
    assert run_pass1(list(reversed(docs)), tmp_path / "w3", 3) == 60
    rule1, rule3 = (FrequentImages(tmp_path / w, FrequentImagesConfig(sample_size=50)) for w in ("w1", "w3"))
    r1, r3 = rule1.merge(1)["removed"], rule3.merge(3)["removed"]
    assert r1 == r3 and len(r1) > 0
    assert (rule1.folder / "decision.json").read_text().replace('"tasks": 1', '"tasks": 3') == (
        rule3.folder / "decision.json").read_text()
    assert {image_id(d, d.media[0]) for d in docs} >= r1  # only icons (first image of each page)
    # pass 2: only icons go, and the step counts them
    step = rule3.apply_step()
    out = list(step.run(iter(corpus())))
    dropped = step.stats.stats["media_dropped_frequent_image"].total
    assert dropped == len(r1) == sum(3 - len(d.media) for d in out)
    assert all(m.metadata["width"] == 300 for d in out for m in d.media[-2:])


def test_merge_refuses_incomplete_or_mixed_pass1(tmp_path):
    docs = corpus(6)
    rule = FrequentImages(tmp_path)
    list(rule.collect_step().run(iter(docs[0::3]), rank=0, world_size=3))
    with pytest.raises(ValueError, match="incomplete"):
        rule.merge()
    list(rule.collect_step().run(iter(docs), rank=0, world_size=1))
    with pytest.raises(ValueError, match="different task counts"):
        rule.merge()
    empty = FrequentImages(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="collect step"):
        empty.merge()
    with pytest.raises(FileNotFoundError, match="merge"):
        list(empty.apply_step().run(iter(docs)))


def test_merge_refuses_rows_of_another_task_count(tmp_path):
    rule = FrequentImages(tmp_path)
    for rank in range(2):
        list(rule.collect_step().run(iter(corpus(6)[rank::2]), rank=rank, world_size=2))
    assert rule.merge(2)["summary"]["images"] == 18
    with pytest.raises(ValueError, match="2 task.*this run has 3"):
        rule.merge(3)
