"""Corpus-wide frequency rules for pairs: frequent alts and duplicate (pHash, alt) pairs."""

from __future__ import annotations

import json

from datatrove.data import Document, Media, MediaType

from dataset_builders.pairs.frequency import PairFrequency, decide_frequency_drops


def row(i, alt, phash="ff00ff00ff00ff00"):
    return {"id": f"p{i:03d}", "alt": alt, "phash": phash}


def test_alt_seen_ten_times_is_dropped_nine_is_kept():
    rows = [row(i, "画像", f"{i:016x}") for i in range(10)] + [row(100 + i, "写真", f"{i:016x}") for i in range(9)]
    drops = decide_frequency_drops(rows)
    assert {k for k, v in drops.items() if v == "frequent_alt"} == {f"p{i:03d}" for i in range(10)}
    assert not any(r["id"] in drops for r in rows if r["alt"] == "写真")


def test_one_pair_per_phash_and_alt_smallest_id_wins():
    rows = [row(5, "桜の花"), row(2, "桜の花"), row(9, "桜の花"), row(3, "桜の花", "0000000000000001"), row(4, "梅の花")]
    assert decide_frequency_drops(rows) == {"p005": "duplicate_pair", "p009": "duplicate_pair"}
    assert decide_frequency_drops(list(reversed(rows))) == decide_frequency_drops(rows)


def docs(rows):
    return [Document(text=r["alt"], id=r["id"], media=[Media(id=r["id"], type=MediaType.IMAGE, url="u", metadata={"phash": r["phash"]})]) for r in rows]


def kept_after_two_passes(tmp_path, rows, tasks):
    rule = PairFrequency(tmp_path / f"work{tasks}")
    for rank in range(tasks):
        list(rule.collect_step()(iter(docs(rows[rank::tasks])), rank=rank, world_size=tasks))
    rule.merge(tasks)
    step = rule.apply_step()
    kept = [d.id for rank in range(tasks) for d in step(iter(docs(rows[rank::tasks])), rank=rank)]
    assert step.stats.stats["forwarded"].total == len(kept)
    return sorted(kept), json.loads((rule.folder / "decision.json").read_text())["decision"]


def test_same_kept_set_over_one_and_three_tasks(tmp_path):
    rows = [row(i, f"説明{i % 6}" if i % 4 else "画像", f"{i % 3:016x}") for i in range(60)]
    one, drops1 = kept_after_two_passes(tmp_path, rows, 1)
    three, drops3 = kept_after_two_passes(tmp_path, rows, 3)
    assert one == three and drops1 == drops3
    assert "frequent_alt" in drops1.values() and "duplicate_pair" in drops1.values()
    assert len(one) == 60 - len(drops1)
