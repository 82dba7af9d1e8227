"""Benchmark tasks read local folders in the Hub schema and in the upstream layouts built from the
real samples; prompts follow each model's format; the runner answers in input order, greedily."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dataset_builders.tiny.synthetic_images import make_image
from eval.prompts import LLMJP_V3_TEMPLATE, build_prompt, clean_answer, resolve_format
from eval.tasks import TASKS, get_task
from eval.tasks.textvqa import textvqa_prompt
from ja_vila.testing.eval_fixtures import build_realdata_benchmarks


@pytest.fixture(scope="module")
def bench(realdata, tmp_path_factory):
    return build_realdata_benchmarks(realdata, tmp_path_factory.mktemp("bench"))


def test_registry():
    assert {"heron_bench", "ja_vlm_bench_in_the_wild", "ja_vg_vqa_500", "textvqa", "textvqa_no_ocr"} <= set(TASKS)
    assert get_task("heron_bench").hub_id == "turing-motors/Japanese-Heron-Bench"
    assert get_task("ja_vlm_bench_in_the_wild").hub_id == "SakanaAI/JA-VLM-Bench-In-the-Wild"
    assert get_task("ja_vg_vqa_500").hub_id == "SakanaAI/JA-VG-VQA-500"
    with pytest.raises(ValueError, match="known tasks"):
        get_task("mmmu")


def test_heron_bench_from_heron_layout(bench, realdata):
    items = get_task("heron_bench").load(bench["heron_bench"])
    assert len(items) == 103
    assert Counter(it.category for it in items) == {"conv": 42, "complex": 40, "detail": 21}
    refs = {}
    for line in (realdata / "ja_vlm_bench/heron_bench/answers_gpt4.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        refs[str(r["question_id"])] = r["text"]
    assert all(it.reference == refs[it.id] for it in items)
    assert all(it.context and it.question == it.prompt for it in items)
    assert len({it.image for it in items}) == 21
    assert len(get_task("heron_bench").load(bench["heron_bench"], limit=5)) == 5


def test_heron_bench_hub_schema_rows(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.jpg").write_bytes(make_image("a", 32, 32))
    row = {"question_id": 7, "image": "a.jpg", "category": "detail", "image_category": "food", "context": "説明",
           "text": "質問", "answer": {"claude-3-opus-20240229": "別", "gpt-4-0125-preview": "参照"}}
    (tmp_path / "train.jsonl").write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    [item] = get_task("heron_bench").load(tmp_path)
    assert (item.id, item.reference, item.category, item.context) == ("7", "参照", "detail", "説明")
    assert item.image == tmp_path / "images" / "a.jpg"


def test_in_the_wild_and_vg_vqa_rows(bench):
    wild = get_task("ja_vlm_bench_in_the_wild").load(bench["ja_vlm_bench_in_the_wild"])
    assert len(wild) == 60 and wild[0].question == "写真の有名な観光地の名前は何ですか？"
    assert wild[0].reference == "写真の有名な光景はダイヤモンドヘッドです。"
    vg = get_task("ja_vg_vqa_500").load(bench["ja_vg_vqa_500"])
    assert len(vg) == 30  # the 30 conv questions of LLaVA-Bench COCO, flattened from their images
    assert len({it.id for it in vg}) == 30
    assert vg[0].question == "画像の2つのスーツケースの色は何色ですか？" and vg[0].reference.startswith("画像の2つのスーツケース")


def test_missing_image_names_the_fix(tmp_path):
    (tmp_path / "test.jsonl").write_text(json.dumps({"question": "q", "answer": "a", "image": "nope.jpg"}) + "\n")
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        get_task("ja_vlm_bench_in_the_wild").load(tmp_path)


def test_not_a_folder_nor_hub_id(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        get_task("ja_vg_vqa_500").load(tmp_path / "missing" / "folder")


def test_textvqa_official_layout_with_and_without_ocr(bench):
    folder = bench["textvqa"]
    (folder / "TextVQA_Rosetta_OCR_v0.2_val.json").write_text(json.dumps(
        {"data": [{"image_id": "003a8ae2ef43b901", "ocr_tokens": ["DAKOTA", "DIGITAL"]}]}))
    with_ocr = {it.id: it for it in get_task("textvqa").load(folder)}
    no_ocr = {it.id: it for it in get_task("textvqa_no_ocr").load(folder)}
    assert len(with_ocr) == len(no_ocr) == 10  # 5 train + 5 val questions (test questions have no answers)
    item = with_ocr["34602"]
    assert item.prompt == ("what is the brand of this camera?\nReference OCR token: DAKOTA, DIGITAL\n"
                           "Answer the question using a single word or phrase.")
    assert no_ocr["34602"].prompt == "what is the brand of this camera?\nAnswer the question using a single word or phrase."
    assert "Reference OCR token" not in with_ocr["0"].prompt  # no tokens for that image: no OCR line
    assert len(item.answers) == 10 and Path(item.image).name == "003a8ae2ef43b901.jpg" and Path(item.image).is_file()


def test_textvqa_prompt_wording():
    assert textvqa_prompt("what is it?", ["a", "b"]) == (
        "what is it?\nReference OCR token: a, b\nAnswer the question using a single word or phrase.")
    assert textvqa_prompt("what is it?", []) == "what is it?\nAnswer the question using a single word or phrase."


class _Proc:
    image_token = "<image>"

    def __init__(self, template=None):
        self.chat_template = template

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):
        assert add_generation_prompt and not tokenize
        content = messages[0]["content"]
        return f"USER: <image>{content[1]['text']} ASSISTANT:"


def test_prompt_formats():
    plain = _Proc()
    assert resolve_format(plain) == "llmjp_v3"
    assert build_prompt(plain, "これは何？", "llmjp_v3") == (
        "以下は、タスクを説明する指示です。要求を適切に満たす応答を書きなさい。\n\n### 指示:\n<image>\nこれは何？\n\n### 応答:\n")
    assert LLMJP_V3_TEMPLATE.count("{question}") == 1
    templated = _Proc("{{ messages }}")
    assert resolve_format(templated) == "chat_template"
    assert resolve_format(templated, "llmjp_v3") == "llmjp_v3"
    assert build_prompt(templated, "q", "chat_template") == "USER: <image>q ASSISTANT:"
    with pytest.raises(ValueError, match="no chat template"):
        resolve_format(plain, "chat_template")
    with pytest.raises(ValueError):
        resolve_format(plain, "vicuna")
    assert clean_answer(" 富士山です。\n### 指示:\n次の質問", "llmjp_v3") == "富士山です。"


def test_runner_batches_keep_order_and_match_single(tmp_path):
    from dataset_builders.tiny.models import save_tiny_llava
    from eval.runner import GenerationSettings, VLMRunner
    from eval.tasks.base import EvalItem

    model = save_tiny_llava(tmp_path / "model")
    items = [EvalItem(id=str(i), question=q, prompt=q, image=make_image(f"img{i}", 40 + 8 * i, 30))
             for i, q in enumerate(["短い質問", "この画像について詳しく説明してください。長い質問です。",
                                         "what is the brand of phone?\nAnswer the question using a single word or phrase.",
                                         "猫"])]
    runner = VLMRunner(model, GenerationSettings(batch_size=1, device="cpu"))
    assert runner.format == "llmjp_v3"
    single = runner.generate(items, 12)
    runner.settings.batch_size = 3
    batched = runner.generate(items, 12)
    assert batched == single
    assert len(set(single)) > 1  # different images and questions, different answers: order matters
    # the answer of an item does not depend on its neighbours
    assert runner.generate(items[2:3], 12) == single[2:3]


def test_runner_bad_model_folder(tmp_path):
    from eval.runner import VLMRunner

    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="cannot load"):
        VLMRunner(tmp_path / "empty")


def test_no_double_bos_with_a_chat_template():
    from types import SimpleNamespace

    from eval.runner import encode_kwargs

    tok = SimpleNamespace(bos_token="<s>")
    assert encode_kwargs(["<s>以下は…", "<s>以下は…"], tok) == {"add_special_tokens": False}
    assert encode_kwargs(["以下は…"], tok) == {}
    assert encode_kwargs(["<s>a", "b"], tok) == {}
    assert encode_kwargs(["<s>a"], SimpleNamespace(bos_token=None)) == {}


def test_runner_uses_the_processors_chat_template(tmp_path):
    from transformers import AutoProcessor

    from dataset_builders.tiny.models import save_tiny_llava
    from eval.runner import GenerationSettings, VLMRunner
    from eval.tasks.base import EvalItem

    model = save_tiny_llava(tmp_path / "model")
    processor = AutoProcessor.from_pretrained(model)
    processor.chat_template = ("{{ bos_token }}{% for m in messages %}USER: {% for p in m['content'] %}"
                               "{% if p['type'] == 'image' %}<image>\n{% else %}{{ p['text'] }}{% endif %}"
                               "{% endfor %}{% endfor %} ASSISTANT:")
    processor.save_pretrained(model)
    runner = VLMRunner(model, GenerationSettings(device="cpu"))
    assert runner.format == "chat_template"
    item = EvalItem(id="0", question="猫？", prompt="猫？", image=make_image("x", 32, 32))
    assert runner.prompt_for(item) == "<s>USER: <image>\n猫？ ASSISTANT:"
    assert len(runner.generate([item], 4)) == 1
    forced = VLMRunner(model, GenerationSettings(device="cpu", prompt_format="llmjp_v3"))
    assert forced.prompt_for(item).startswith("以下は、タスクを説明する指示です。")
