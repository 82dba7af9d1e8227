"""HojiChar harmful-content filters (interleaved builder step 4): one reason per word list."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from dataset_builders.text.boundary_eval import real_japanese_texts
from dataset_builders.text.harmful import ALL_KINDS, HarmfulContentFilter, HarmfulTextChecker

TEST_WORDS = {  # HojiChar's own test entries, present in each shipped list
    "adult": "<TEST_STRING_OF_ADULT_KEYWORD>",
    "violence": "<TEST_STRING_OF_VIOLENCE_KEYWORD>",
    "discrimination": "<TEST_STRING_OF_DISCRIMINATION_KEYWORD>",
}


def test_kinds_and_order():
    assert ALL_KINDS == ("adult", "violence", "discrimination")
    checker = HarmfulTextChecker()
    for kind, word in TEST_WORDS.items():
        assert checker.reason(f"今日は{word}の話です。") == kind
    # two lists match: the first kind in order names the drop
    assert checker.reason(TEST_WORDS["discrimination"] + TEST_WORDS["violence"]) == "violence"
    assert checker.reason("ほうじ茶を飲みながら本を読む。") is None


def test_kinds_subset_and_unknown():
    only_violence = HarmfulTextChecker(kinds=["violence"])
    assert only_violence.reason(TEST_WORDS["adult"]) is None
    assert only_violence.reason(TEST_WORDS["violence"]) == "violence"
    with pytest.raises(ValueError, match="unknown harmful-content kind"):
        HarmfulTextChecker(kinds=["spam"])


def test_ignore_confused_only_relaxes_katakana_inside_katakana():
    strict, lenient = HarmfulTextChecker(ignore_confused=False), HarmfulTextChecker(ignore_confused=True)
    assert strict.matched("アスパラガスを茹でる") == ("adult", "アス")
    assert lenient.matched("アスパラガスを茹でる") is None
    assert lenient.reason(TEST_WORDS["adult"]) == "adult"  # non-katakana keywords still match


def test_filter_counts_one_reason_per_list():
    docs = [Document(text=f"本文{w}です。", id=k) for k, w in TEST_WORDS.items()]
    docs.append(Document(text="普通の文章です。", id="clean"))
    f = HarmfulContentFilter()
    kept = list(f.run(iter(docs)))
    assert [d.id for d in kept] == ["clean"]
    for kind in ALL_KINDS:
        assert f.stats[f"dropped_{kind}"].total == 1
    assert f.stats["dropped"].total == 3


def test_filter_pickles_without_compiled_regex():
    import pickle

    f = HarmfulContentFilter(kinds=["adult"])
    f.filter(Document(text="x", id="1"))  # builds the checker
    g = pickle.loads(pickle.dumps(f))
    assert g.filter(Document(text=TEST_WORDS["adult"], id="2")) == (False, "adult")


def test_real_pages_false_positives(realdata):
    """Whole-document keyword matching is blunt: measure it on real, harmless pages.

    Measured on the 29 Japanese news/tech pages (text blocks joined): ignore_confused=False flags 19
    pages, True flags 14 (AV, SM, 露出, 破壊, 死, 不具合→不具, …); Aozora 檸檬 is flagged for 八百屋
    (discrimination list). Any single hit drops a document, as in HojiChar/llm-jp-corpus.
    """
    texts = real_japanese_texts(realdata)
    pages = texts["html_ja"]
    strict, lenient = HarmfulTextChecker(ignore_confused=False), HarmfulTextChecker(ignore_confused=True)
    n_strict = sum(strict.reason(p) is not None for p in pages)
    n_lenient = sum(lenient.reason(p) is not None for p in pages)
    assert 0 < n_lenient < n_strict <= len(pages)
    assert lenient.matched("\n".join(texts["aozora_lemon"])) == ("discrimination", "八百屋")
