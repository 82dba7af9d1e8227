"""The evolve guards: the diversity archive rejects near-duplicate tasks (and the proposer is asked
again), verification drops disagreeing annotations, OCR mismatches and unverifiable task types."""

from __future__ import annotations

from pathlib import Path

import pytest

from ja_vila.evolve import (
    TaskArchive,
    ocr_consistent,
    self_consistency,
    similarity,
    unverifiable_keyword,
)
from ja_vila.evolve.agents import Agent, make_budget
from ja_vila.evolve.config import DiversitySettings, VerifySettings
from ja_vila.evolve.failures import Failure
from ja_vila.evolve.images import TrainImage
from ja_vila.evolve.schemas import ProposedTask
from ja_vila.evolve.tasks import TaskRecord, annotate_tasks, propose_tasks
from ja_vila.servers.evolve_server import EvolveScriptedServer
from tests.evolve_helpers import llm, tiny_config
from training.data.synthetic import colour_image

SIGN = ProposedTask(name="看板の文字読み取り", instruction="写真の中の看板に書かれている文字列をそのまま書き起こしてください。")
SIGN_AGAIN = ProposedTask(name="看板テキストの書き起こし",
                          instruction="写真の中の看板に書かれている文字列をそのまま正確に書き起こしてください。")
COUNT = ProposedTask(name="物体の数え上げ", instruction="画像に写っている同じ種類の物体がいくつあるかを数えて答えてください。")
FOOD = ProposedTask(name="料理の説明", instruction="皿の上の料理名を推定し、主な食材を列挙してください。")


@pytest.mark.parametrize("method,threshold", [("rouge_l", 0.7), ("char_ngram_cosine", 0.8)])
def test_archive_rejects_near_duplicates_and_accepts_distinct(method, threshold):
    assert similarity(SIGN.instruction, SIGN_AGAIN.instruction, method) >= threshold
    assert similarity(SIGN.instruction, COUNT.instruction, method) < threshold
    archive = TaskArchive(method, threshold, [SIGN])
    decisions = archive.screen([SIGN_AGAIN, COUNT, FOOD], want=5)
    assert [d.accepted for d in decisions] == [False, True, True]
    assert decisions[0].closest == SIGN.name and decisions[0].similarity >= threshold
    # a duplicate within the same batch is caught too
    assert [d.accepted for d in TaskArchive(method, threshold).screen([COUNT, COUNT], want=5)] == [True, False]


def _inputs_stub(tmp_path: Path) -> dict[str, Path]:
    return {"base": tmp_path, "seed": tmp_path, "val": tmp_path}


def _agent(role, url, tmp_path, budget=None):
    return Agent(role, llm(url, role), tmp_path / "cache", budget or make_budget(None, None))


def test_proposer_is_asked_again_after_a_rejection(tmp_path):
    pool = [(SIGN_AGAIN.name, SIGN_AGAIN.instruction), (COUNT.name, COUNT.instruction), (FOOD.name, FOOD.instruction)]
    with EvolveScriptedServer(task_pool=pool) as server:
        cfg = tiny_config(_inputs_stub(tmp_path), server.url,
                          diversity=DiversitySettings(method="rouge_l", threshold=0.7, max_rounds=2))
        archive = TaskArchive("rouge_l", 0.7, [SIGN])
        failures = [Failure(f"v{i}", "何色？", "赤", "青", 0.0) for i in range(5)]
        records, log = propose_tasks(cfg, 2, failures, archive, _agent("proposer", server.url, tmp_path), None)
        proposals = [r for r in server.requests if r.schema_name == "TaskProposal"]
    assert [r.name for r in records] == [COUNT.name, FOOD.name]
    assert [r["task"]["name"] for r in log["rejected"]] == [SIGN_AGAIN.name]
    assert len(proposals) == 2 and SIGN_AGAIN.name in proposals[1].last_user_text  # the re-ask names the rejected task
    # lineage: each task records the (sampled) failures the proposer was shown
    assert all(r.inspired_by == log["failures_shown"] and len(r.inspired_by) == 3 for r in records)
    assert set(log["failures_shown"]) <= {f.id for f in failures}


def test_self_consistency_and_ocr_rules():
    assert self_consistency(["赤です。", "赤です", " 赤です。"], 1.0).answer_index == 0
    c = self_consistency(["赤です。", "青です。", "赤です。"], 1.0)
    assert c.answer_index is None and c.agreement == pytest.approx(2 / 3)
    assert self_consistency(["赤です。", "青です。", "赤です。"], 0.6).answer_index == 0
    assert ocr_consistent("看板には「COFFEE」と書かれています。", ["coffee", "shop"])
    assert not ocr_consistent("看板には「COFFEE 2024」と書かれています。", ["coffee", "shop"])
    assert ocr_consistent("何か書かれています", [])  # no OCR tokens: nothing to check
    clock = ProposedTask(name="時計の読み取り", instruction="画像のアナログ時計が示す時刻を答えてください。")
    assert unverifiable_keyword(clock, VerifySettings().unverifiable_keywords) == "アナログ時計"
    assert unverifiable_keyword(COUNT, VerifySettings().unverifiable_keywords) is None


def test_annotation_verification_drops_disagreement_ocr_mismatch_and_unverifiable(tmp_path):
    images = [TrainImage("img_red", _jpeg("赤"), []), TrainImage("img_sign", _jpeg("青"), ["open", "cafe"])]
    tasks = [TaskRecord("安定タスク", "色を答える", 1, ["v1"]),
             TaskRecord("揺れるタスク", "色を答える", 1, ["v2"]),
             TaskRecord("看板タスク", "看板を読む", 1, ["v3"]),
             TaskRecord("時計タスク", "アナログ時計の時刻", 1, ["v4"], unverifiable="アナログ時計")]
    with EvolveScriptedServer() as server:
        server.disagree_tasks = {"揺れるタスク"}
        server.answer_override = {"看板タスク": "看板には CLOSED と書かれています。"}
        cfg = tiny_config(_inputs_stub(tmp_path), server.url, verify=VerifySettings(k=3))
        samples, counts = annotate_tasks(cfg, 1, tasks, images, _agent("annotator", server.url, tmp_path))
        assert not any("時計" in r.last_user_text for r in server.requests)  # never sent to the annotator
        assert server.count() == 3 * 3 * 2  # k=3 x 3 annotatable tasks x 2 images, seeds differ
    assert counts["task_unverifiable"] == 1
    assert counts["dropped_disagreement"] == 2  # 揺れるタスク on both images
    assert counts["dropped_ocr_mismatch"] == 1  # CLOSED is not among img_sign's OCR tokens
    kept = {(s.task_name, s.image_id) for s in samples}
    assert kept == {("安定タスク", "img_red"), ("安定タスク", "img_sign"), ("看板タスク", "img_red")}
    assert all(s.agreement == 1.0 and s.inspired_by for s in samples)


def _jpeg(colour: str) -> bytes:
    import io

    buf = io.BytesIO()
    colour_image(colour).save(buf, format="JPEG")
    return buf.getvalue()
