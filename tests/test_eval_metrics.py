"""Metrics against their reference vectors: eval-mm's Japanese ROUGE-L test cases, the VQA answer
normaliser and accuracy cases (official vqaEval / TextVQA m4c), and Heron-Bench's review parser on
90 real judge outputs."""

from __future__ import annotations

import json

import pytest

from eval.metrics import heron, rouge_ja, vqa_accuracy


@pytest.fixture(scope="module")
def evalmm_vectors(realdata):
    return json.loads((realdata / "ja_vlm_bench" / "eval_mm_scorer_vectors.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vqa_cases(realdata):
    return json.loads((realdata / "vqa" / "vqa_accuracy_reference_cases.json").read_text(encoding="utf-8"))


# -- ROUGE-L ----------------------------------------------------------------------------------------
def test_rouge_reproduces_evalmm_vectors(evalmm_vectors):
    cases = evalmm_vectors["rouge_ja"]
    assert len(cases) == 4
    for case in cases:
        value = rouge_ja.mean(rouge_ja.rouge_l_scores(case["refs"], case["preds"]))
        if case.get("exact"):
            assert value == case["expected_rougeL"]
        else:
            assert value == pytest.approx(case["expected_rougeL"], rel=case["approx_rel"])
    for case in evalmm_vectors["rougel_scorer_per_sample"]:
        scores = rouge_ja.rouge_l_scores(case["refs"], case["preds"])
        assert scores == pytest.approx(case["expected_scores"], rel=case.get("approx_rel", 1e-12))
        if "expected_aggregate_overall" in case:
            assert rouge_ja.mean(scores) == pytest.approx(case["expected_aggregate_overall"], rel=case["approx_rel"])


def test_rouge_design_vectors_exact_values():
    # LCS 6 of 9 and 6 of 9 tokens -> 2/3; LCS 3 of 5 and 3 of 7 -> F1 0.5
    assert rouge_ja.rouge_l("たかしが公園で遊んでいた。", "たかしが公園にいたようだ。") == pytest.approx(200 / 3, abs=1e-9)
    assert rouge_ja.rouge_l("池のほとりです。", "ここは湖の岸です。") == pytest.approx(50.0, abs=1e-9)


def test_rouge_normalises_like_evalmm():
    # MeCab tokens, not characters: a word that merely shares characters does not match
    assert rouge_ja.tokenize("池のほとりです。") == ["池", "の", "ほとり", "です", "。"]
    # emoji removed, NFKC (full-width letters/digits/space), whitespace collapsed
    assert rouge_ja.normalize_text("ＡＢＣ　１２３😀  猫") == "ABC 123 猫"
    assert rouge_ja.rouge_l("猫です。", "😀猫です。") == 100.0
    assert rouge_ja.rouge_l("ＡＢＣです", "ABCです") == 100.0
    # nothing to compare: 0, like rouge_score
    assert rouge_ja.rouge_l("猫です。", "") == 0.0
    assert rouge_ja.rouge_l("猫です。", "犬") == 0.0
    assert rouge_ja.mean([]) == 0.0
    with pytest.raises(ValueError):
        rouge_ja.rouge_l_scores(["a"], [])


def test_lcs_length():
    assert rouge_ja.lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert rouge_ja.lcs_length([], ["a"]) == 0


# -- VQA accuracy -----------------------------------------------------------------------------------
def test_vqa_normalizer_cases(vqa_cases):
    cases = vqa_cases["normalizer_cases"]["cases"]
    assert len(cases) == 48
    wrong = [(c["answer"], vqa_accuracy.normalize_answer(c["answer"]), c["expected"]) for c in cases
             if vqa_accuracy.normalize_answer(c["answer"]) != c["expected"]]
    assert wrong == []


def test_vqa_accuracy_cases(vqa_cases):
    cases = vqa_cases["accuracy_cases"]["cases"]
    assert len(cases) == 15
    for c in cases:
        assert vqa_accuracy.vqa_accuracy(c["pred"], c["gt_answers"]) == pytest.approx(c["expected"], abs=1e-9), c["name"]


def test_textvqa_sample_scores(vqa_cases):
    questions = vqa_cases["textvqa_sample_scores"]["questions"]
    assert len(questions) == 10
    n = 0
    for q in questions:
        for s in q["scores"]:
            got = round(vqa_accuracy.vqa_accuracy(s["pred"], q["gt_answers"]), 6)
            assert got == s["textvqa_m4c_eval"] == s["official_vqa_eval"], (q["question_id"], s["pred"])
            n += 1
    assert n >= 60


def test_vqa_accuracy_behaviour():
    gts = ["nokia"] * 9 + ["toshiba"]
    assert vqa_accuracy.vqa_accuracy("The Nokia.", gts) == 1.0
    assert vqa_accuracy.vqa_accuracy("toshiba", gts) == pytest.approx(0.3)
    assert vqa_accuracy.vqa_accuracy("samsung", gts) == 0.0
    assert vqa_accuracy.normalize_answer("Two dogs") == "2 dogs"
    assert vqa_accuracy.normalize_answer("dont") == "don't"
    with pytest.raises(ValueError):
        vqa_accuracy.vqa_accuracy("x", [])


# -- Heron-Bench ------------------------------------------------------------------------------------
def test_parse_score_pair_on_real_reviews(realdata):
    path = realdata / "ja_vlm_bench" / "llava_bench_coco_ja" / "sample_reviews.json"
    reviews = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(reviews) == 90
    for r in reviews:
        assert heron.parse_score_pair(r["content"]) == tuple(r["tuple"]), r["id"]


@pytest.mark.parametrize("text, expected", [
    ("8 6\nexplanation", (8.0, 6.0)),
    ("8, 6\n説明", (8.0, 6.0)),
    ("7.5 9", (7.5, 9.0)),
    ("Assistant 1: 8\nAssistant 2: 6", None),
    ("8\n6", None),
    ("8 6 7\n", None),
    ("eight six\n", None),
    ("", None),
    ("nan 5\n", None),
])
def test_parse_score_pair_edge_cases(text, expected):
    assert heron.parse_score_pair(text) == expected


def test_relative_scores_by_hand():
    """Worked on paper: conv pairs (8, 6) and (6, 6): reference mean 7, model mean 6, 100 * 6 / 7 =
    85.714285714; detail: its only item unscored → 0 and 1 parse error; complex (5, 10) and (5, 0):
    reference 5, model 5 → 100; overall (85.714285714 + 0 + 100) / 3 = 61.904761905."""
    cats = ["conv", "conv", "detail", "complex", "complex"]
    pairs = [(8.0, 6.0), (6.0, 6.0), None, (5.0, 10.0), (5.0, 0.0)]
    out = heron.relative_scores(cats, pairs)
    assert out["conv"] == 6.0 and out["conv_reference"] == 7.0 and out["conv_n"] == 2
    assert out["conv_rel"] == pytest.approx(85.714285714, abs=1e-8)
    assert out["detail_rel"] == 0.0 and out["detail_n"] == 0
    assert out["complex_rel"] == 100.0
    assert out["parse_error_count"] == 1
    assert out["overall_rel"] == pytest.approx(61.904761905, abs=1e-8)


def test_relative_scores_evalmm_parse_failure_vector(evalmm_vectors):
    case = evalmm_vectors["heron_bench_judge_parse_failure"]
    out = heron.relative_scores([d["category"] for d in case["docs"]], [None] * len(case["docs"]))
    expected = case["expected_details"]
    assert out["parse_error_count"] == expected["parse_error_count"]
    for key in ("conv_rel", "detail_rel", "complex_rel", "overall_rel"):
        assert out[key] == expected[key]


def test_relative_scores_from_real_reviews(realdata):
    """The 90 real reviews, totals read off the file's own score pairs by hand (30 per category):
    conv reference 216, model 211 → 97.685185185; detail 206 / 200 → 97.087378641; complex 210 / 215
    → 102.380952381; overall their mean, 99.051172069."""
    path = realdata / "ja_vlm_bench" / "llava_bench_coco_ja" / "sample_reviews.json"
    reviews = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = heron.relative_scores_from_reviews(reviews)
    assert (out["conv_n"], out["detail_n"], out["complex_n"]) == (30, 30, 30)
    assert out["conv_rel"] == pytest.approx(97.685185185, abs=1e-8)
    assert out["detail_rel"] == pytest.approx(97.087378641, abs=1e-8)
    assert out["complex_rel"] == pytest.approx(102.380952381, abs=1e-8)
    assert out["overall_rel"] == pytest.approx(99.051172069, abs=1e-8)
    assert out["conv_reference"] == pytest.approx(7.2) and out["conv"] == pytest.approx(211 / 30)
    assert out["parse_error_count"] == 0
    broken = [dict(reviews[0], content="no scores here")] + reviews[1:]
    assert heron.relative_scores_from_reviews(broken)["parse_error_count"] == 1
