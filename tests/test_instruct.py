"""ja-instruct: COCO (LLaVA-style), photos and VQA sources built against the scripted server —
failures counted, re-runs free (cache), a SIGKILLed run resumes without re-sending finished
requests, the budget stops cleanly, evaluation images are excluded, and the API key is never
written anywhere."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from datasets import load_dataset
from PIL import Image
from typer.testing import CliRunner

from dataset_builders.instruct import InstructConfig, build_instruct, prompts_coco
from dataset_builders.instruct.annotations import read_annotations, read_llava_jsonl
from dataset_builders.instruct.demo import build_demo_instruct
from dataset_builders.llm.config import LLMConfig
from dataset_builders.tiny.synthetic_images import make_image
from ja_vila.cli import app
from tests.process_helpers import run_until

REPO = Path(__file__).resolve().parents[1]
MARKER_KEY = "sk-test-MARKER-123"
COCO_TASKS = ("conversation", "detail", "complex_reasoning")



@pytest.fixture(autouse=True)
def _key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", MARKER_KEY)


def _config(server, **llm) -> InstructConfig:
    base = dict(base_url=server.url, model="scripted-mini", timeout_s=5, max_retries=1, backoff_base_s=0.01,
                backoff_max_s=0.05, max_parse_retries=1, concurrency=4)
    base.update(llm)
    return InstructConfig(llm=LLMConfig(**base), batch_size=4, shard_max_samples=4)


def _coco_input(tmp_path: Path, n: int, markers: dict[int, str] | None = None) -> tuple[Path, Path]:
    """A caps_boxes JSONL of ``n`` images (captions may carry server markers) and stand-in images."""
    images = tmp_path / "coco_images"
    images.mkdir(exist_ok=True)
    rows = []
    for i in range(n):
        iid = f"{i + 1:012d}"
        marker = (markers or {}).get(i, "")
        rows.append({"id": iid, "image": f"{iid}.jpg",
                     "captions": [f"A dog runs on the grass number {i}. {marker}".strip(), "A dog playing outside."],
                     "instances": [{"category": "dog", "bbox": [0.1, 0.5, 0.4, 0.9]},
                                   {"category": "person", "bbox": [0.6, 0.2, 0.8, 0.9]}]})
        (images / f"{iid}.jpg").write_bytes(make_image(iid, 96, 72))
    ann = tmp_path / "caps_boxes.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return ann, images


def _samples(out: Path) -> dict[str, dict]:
    """Every sample's json by key, read straight from the shards (asserting no key twice)."""
    found: dict[str, dict] = {}
    for shard in sorted((out / "data").glob("*.tar")):
        with tarfile.open(shard) as tf:
            for m in tf.getmembers():
                key, ext = m.name.split(".", 1)
                if ext == "json":
                    assert key not in found, f"sample {key} written twice"
                    found[key] = json.loads(tf.extractfile(m).read())
    return found


def _load(folder: Path):
    """``load_dataset(folder)`` with a private cache: datasets keys its local cache by the folder's
    *name* and shard names, so two folders called ``out`` would share (stale) Arrow files."""
    return load_dataset(str(folder), split="train", cache_dir=str(folder.parent / "hf_cache"))


def _check_conversation(turns: list[dict]) -> None:
    assert turns[0]["role"] == "user" and turns[0]["content"].startswith("<image>\n")
    assert [t["role"] for t in turns] == ["user", "assistant"] * (len(turns) // 2)
    assert all("<image>" not in t["content"] for t in turns[1:])


def _funnel_balances(stats: dict) -> None:
    for s in stats["funnel"]:
        assert s["input"] == s["kept"] + sum(s["dropped"].values()), s


def _stage(stats: dict, name: str) -> dict:
    return next(s for s in stats["funnel"] if s["stage"] == name)


def test_realdata_coco_caps_boxes(realdata, server, tmp_path):
    src = realdata / "coco" / "llava_caps_boxes_coco2014_val_80.jsonl"
    images = tmp_path / "images"
    images.mkdir()
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        (images / r["image"]).write_bytes(make_image(r["id"], 64, 48))
    cfg = _config(server, concurrency=8)
    cfg.batch_size = 16
    stats = build_instruct("coco", src, tmp_path / "out", cfg, images_dir=images)
    assert stats["samples"] == 3 * len(rows) == 240 and server.count() == 240
    _funnel_balances(stats)
    samples = _samples(tmp_path / "out")
    assert Counter(s["task"] for s in samples.values()) == {t: 80 for t in COCO_TASKS}
    for s in samples.values():
        _check_conversation(s["conversations"])
        assert (s["generator"], s["prompt_version"], s["source"]) == ("scripted-mini", "coco-ja-v1", "coco2014")
    # the model saw the real annotations: Japanese category names + normalised boxes, captions verbatim
    donut = next(r.last_user_text for r in server.requests if "A donut shop" in r.last_user_text)
    assert "- ドーナツ (donut): [0.370, 0.584, 0.504, 0.709]" in donut
    conv = next(s for s in samples.values() if s["image_id"] == "000000296284" and s["task"] == "conversation")
    assert "ドーナツ" in conv["conversations"][1]["content"]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "coco-ja-v1" in card and "scripted-mini" in card and "CC BY 4.0" in card
    assert len(_load(tmp_path / "out")) == 240


def test_official_coco_json_is_read_and_boxes_normalised(server, tmp_path):
    images = [{"id": 42, "file_name": "COCO_val2014_000000000042.jpg", "width": 640, "height": 480},
              {"id": 7, "file_name": "COCO_val2014_000000000007.jpg", "width": 200, "height": 100}]
    (tmp_path / "captions_val2014.json").write_text(json.dumps({"images": images, "annotations": [
        {"id": 1, "image_id": 42, "caption": "A cat sleeping on a bed."},
        {"id": 2, "image_id": 42, "caption": "A cat on a bed."},
        {"id": 3, "image_id": 7, "caption": "Two bananas on a table."}]}))
    (tmp_path / "instances_val2014.json").write_text(json.dumps({"images": images, "annotations": [
        {"id": 9, "image_id": 42, "bbox": [64, 48, 128, 96], "category_id": 17},
        {"id": 10, "image_id": 7, "bbox": [0, 0, 250, 100], "category_id": 52}],
        "categories": [{"id": 17, "name": "cat"}, {"id": 52, "name": "banana"}]}))
    counts: Counter[str] = Counter()
    anns = {a.image_id: a for a in read_annotations([tmp_path], counts)}
    assert set(anns) == {"42", "7"} and counts["kept"] == 2
    assert anns["42"].captions == ["A cat sleeping on a bed.", "A cat on a bed."]
    assert anns["42"].boxes[0].category == "cat" and anns["42"].boxes[0].bbox == pytest.approx((0.1, 0.1, 0.3, 0.3))
    assert anns["7"].boxes[0].bbox == pytest.approx((0.0, 0.0, 1.0, 1.0))  # clipped to the image
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for im in images:
        (imgs / im["file_name"]).write_bytes(make_image(im["file_name"], 64, 48))
    cfg = _config(server)
    cfg.coco_tasks = ("detail",)
    stats = build_instruct("coco", [tmp_path / "captions_val2014.json", tmp_path / "instances_val2014.json"],
                           tmp_path / "out", cfg, images_dir=imgs)
    assert stats["samples"] == 2
    detail = next(s for s in _samples(tmp_path / "out").values() if s["image_id"] == "42")
    assert detail["conversations"][0]["content"] == "<image>\n" + prompts_coco.detail_question("42")
    assert "猫" in detail["conversations"][1]["content"]


def test_failures_are_counted_by_reason_and_the_rest_is_kept(server, tmp_path):
    markers = {1: "[[mock:malformed]]", 2: "[[mock:refusal]]", 3: "[[mock:hang]]", 4: "[[mock:500]]",
               5: "[[mock:429*1]]", 6: "[[mock:invalid*1]]"}
    ann, images = _coco_input(tmp_path, 8, markers)
    (images / "000000000008.jpg").unlink()  # one image missing
    server.retry_after = 0
    cfg = _config(server, timeout_s=0.5)
    cfg.coco_tasks = ("conversation",)
    stats = build_instruct("coco", ann, tmp_path / "out", cfg, images_dir=images)  # the hang ends at timeout_s
    _funnel_balances(stats)
    assert _stage(stats, "image")["dropped"] == {"missing_image": 1}
    gen = _stage(stats, "generate")
    assert gen["kept"] == 3  # ok, 429-then-ok, invalid-then-ok
    assert gen["dropped"] == {"malformed": 1, "refused": 1, "timeout": 1, "server_error": 1}
    assert stats["counts"]["dropped_timeout"] == 1 and stats["llm_usage"]["failures"]["refused"] == 1
    assert stats["samples"] == 3
    assert len(_load(tmp_path / "out")) == 3


def test_second_run_sends_nothing_and_rebuilds_identical_shards_from_cache(server, tmp_path):
    ann, images = _coco_input(tmp_path, 4)
    out = tmp_path / "out"
    stats = build_instruct("coco", ann, out, _config(server), images_dir=images)
    assert stats["samples"] == 12 and server.count() == 12
    shard_bytes = {p.name: p.read_bytes() for p in (out / "data").glob("*.tar")}
    stats = build_instruct("coco", ann, out, _config(server), images_dir=images)  # shards already there
    assert server.count() == 12 and stats["samples"] == 12
    for p in (out / "data").glob("*.tar"):  # shards lost, cache kept: rebuilt without a request
        p.unlink()
    stats = build_instruct("coco", ann, out, _config(server), images_dir=images)
    assert server.count() == 12 and stats["llm_usage"]["cache_hits"] == 12 and stats["llm_usage"]["requests"] == 0
    assert {p.name: p.read_bytes() for p in (out / "data").glob("*.tar")} == shard_bytes


def test_budget_stops_cleanly_and_the_partial_dataset_loads(server, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    ann, images = _coco_input(tmp_path, 4)
    out = tmp_path / "out"
    stats = build_instruct("coco", ann, out, _config(server, max_requests=5, concurrency=1), images_dir=images)
    assert server.count() == 5 and stats["samples"] == 5
    assert stats["llm_usage"]["budget_exhausted"] == 7 and stats["counts"]["dropped_budget_exhausted"] == 7
    _funnel_balances(stats)
    assert any("budget exhausted" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    ds = _load(out)
    assert len(ds) == 5 and all(row["json"]["conversations"][0]["content"].startswith("<image>\n") for row in ds)
    # a later run with a bigger budget finishes the job, paying only for what is missing
    stats = build_instruct("coco", ann, out, _config(server), images_dir=images)
    assert server.count() == 12 and stats["samples"] == 12 and len(_samples(out)) == 12


def _identity(req) -> tuple[str, str | None]:
    return req.last_user_text, req.schema_name


def test_sigkilled_run_resumes_without_resending_and_no_key_is_written(server, tmp_path):
    ann, images = _coco_input(tmp_path, 8)
    out = tmp_path / "out"
    anns = list(read_llava_jsonl(ann, Counter()))
    label_of = {(prompts_coco.annotation_text(a), prompts_coco.SCHEMAS[t].__name__): f"coco:{a.image_id}:{t}"
                for a in anns for t in COCO_TASKS}
    cmd = [sys.executable, "-m", "ja_vila.cli", "-v", "build", "instruct", "--source", "coco", "--input", str(ann),
           "--images", str(images), "--output", str(out), "--config", str(REPO / "configs/data/instruct.yaml"),
           "--set", f"llm.base_url={server.url}", "--set", "llm.concurrency=1", "--set", "llm.timeout_s=10",
           "--set", "batch_size=1", "--set", "shard_max_samples=2"]
    env = {**os.environ, "OPENAI_API_KEY": MARKER_KEY, "JA_VILA_LOG_LEVEL": "DEBUG"}
    server.delay = 0.15
    log1 = tmp_path / "run1.log"
    with open(log1, "wb") as log:
        killed, proc = run_until(cmd, lambda: server.count() >= 10, deadline_s=120, cwd=REPO, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)  # the whole group, none left
    assert killed, "the build finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    cached = {json.loads(p.read_text(encoding="utf-8"))["label"] for p in (out / "llm_cache").rglob("*.json")}
    run1 = [label_of[_identity(r)] for r in server.requests]
    assert 1 <= len(cached) < 24 and cached <= set(run1)
    server.reset()
    server.delay = 0.0
    run2 = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, timeout=300)
    assert run2.returncode == 0, run2.stderr.decode()[-3000:]
    resent = [label_of[_identity(r)] for r in server.requests]
    assert not set(resent) & cached, "a finished request was sent again"
    assert len(resent) == len(set(resent)) and set(run1) | set(resent) == set(label_of.values())
    samples = _samples(out)  # asserts every key once
    assert len(samples) == 24 and Counter(s["task"] for s in samples.values()) == {t: 8 for t in COCO_TASKS}
    # the key reached the server, and nothing else: no output file, cache entry or log line holds it
    assert {r.authorization for r in server.requests} == {f"Bearer {MARKER_KEY}"}
    for f in out.rglob("*"):
        if f.is_file():
            assert MARKER_KEY.encode() not in f.read_bytes(), f"API key written to {f}"
    logs = log1.read_bytes() + run2.stdout + run2.stderr
    assert b"DEBUG" in logs and b"chat/completions" in logs  # the logs were verbose, and still clean
    assert MARKER_KEY.encode() not in logs


def test_photos_from_a_folder_and_from_webdataset_shards(server, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    originals = {f"kyoto-{i}": make_image(f"kyoto-{i}", 800, 600) for i in range(3)}
    for name, data in originals.items():
        (folder / f"{name}.jpg").write_bytes(data)
    shards = tmp_path / "shards"
    shards.mkdir()
    with tarfile.open(shards / "photos-000.tar", "w") as tf:
        for i in range(2):
            data = make_image(f"osaka-{i}", 300, 200, "png")
            info = tarfile.TarInfo(f"osaka-{i}.png")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    cfg = _config(server)
    cfg.photo_max_side = 256
    stats = build_instruct("photos", [folder, shards], tmp_path / "out", cfg)
    assert stats["samples"] == 5 and server.count() == 5 and stats["prompt_version"] == "photos-ja-v1"
    for req in server.requests:  # the VLM saw the photo, downscaled
        part = next(p for p in req.body["messages"][-1]["content"] if p["type"] == "image_url")
        img = Image.open(io.BytesIO(base64.b64decode(part["image_url"]["url"].split(",", 1)[1])))
        assert max(img.size) <= 256
    samples = _samples(tmp_path / "out")
    assert {s["image_id"] for s in samples.values()} == {*originals, "osaka-0", "osaka-1"}
    for s in samples.values():
        _check_conversation(s["conversations"])
        assert len(s["conversations"]) >= 4 and s["task"] == "photo_conversation"
    ds = _load(tmp_path / "out")
    row = next(r for r in ds if r["json"]["image_id"] == "kyoto-0")
    assert row["jpg"].size == (800, 600)  # the dataset keeps the original photo


def test_vqa_conversion_excludes_evaluation_images(tmp_path, monkeypatch):
    images = tmp_path / "vg"
    images.mkdir()
    for i in (1, 2, 3, 5):
        (images / f"{i}.jpg").write_bytes(make_image(f"vg-{i}", 64, 48))
    rows = [
        {"id": 1, "qas": [{"question": "空は何色ですか？", "answer": "青", "image_id": 1, "qa_id": 1},
                          {"question": "犬は何匹いますか？", "answer": "2匹", "image_id": 1, "qa_id": 2},
                          {"question": "どこで撮られましたか？", "answer": "公園", "image_id": 1, "qa_id": 3},
                          {"question": "空は何色ですか？", "answer": "青", "image_id": 1, "qa_id": 4}]},
        {"id": 2, "qas": [{"question": "何がありますか？", "answer": "机", "image_id": 2, "qa_id": 5}]},
        {"id": 3, "qas": [{"question": "季節はいつですか？", "answer": "冬", "image_id": 3, "qa_id": 6}]},
        {"id": 4, "qas": [{"question": "何人いますか？", "answer": "3人", "image_id": 4, "qa_id": 7}]},
        {"qas": "broken"},
    ]
    (tmp_path / "question_answers.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "extra.jsonl").write_text(json.dumps({"image_id": "000005", "image": "5.jpg", "question": "天気は？",
                                                      "answer": "晴れ"}, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp_path / "ja_vg_vqa_500_ids.txt").write_text("# JA-VG-VQA-500 image ids\n2\n", encoding="utf-8")
    sha = hashlib.sha256((images / "3.jpg").read_bytes()).hexdigest()
    (tmp_path / "eval_hashes.json").write_text(json.dumps([sha]), encoding="utf-8")
    cfg = InstructConfig(vqa_max_turns=2, shard_max_samples=10,
                         eval_exclude=(str(tmp_path / "ja_vg_vqa_500_ids.txt"), str(tmp_path / "eval_hashes.json")))
    monkeypatch.delenv("OPENAI_API_KEY")  # no LLM involved: no key needed
    stats = build_instruct("vqa", [tmp_path / "question_answers.json", tmp_path / "extra.jsonl"], tmp_path / "out",
                           cfg, images_dir=images)
    _funnel_balances(stats)
    assert stats["counts"]["dropped_eval_image"] == 2
    assert _stage(stats, "eval_exclusion")["dropped"] == {"eval_image": 2}
    assert _stage(stats, "image")["dropped"] == {"missing_image": 1}
    assert _stage(stats, "read_vqa")["dropped"] == {"bad_record": 1}
    samples = _samples(tmp_path / "out")
    assert sorted(s["image_id"] for s in samples.values()) == ["1", "1", "5"]  # 3 unique QAs of image 1 → 2 samples
    for s in samples.values():
        _check_conversation(s["conversations"])
        assert s["task"] == "vqa" and s["generator"] is None and s["prompt_version"] == "vqa-ja-v1"
        assert s["conversations"][0]["content"].endswith("\n単語または短い文で答えてください。")
    turns = sorted(len(s["conversations"]) for s in samples.values() if s["image_id"] == "1")
    assert turns == [2, 4]
    assert len(_load(tmp_path / "out")) == 3


def test_demo_builder_and_rerun_is_free(server, tmp_path):
    photos = [(f"photo-{i}", make_image(f"photo-{i}", 320, 240)) for i in range(3)]
    stats = build_demo_instruct(tmp_path / "ja-instruct", photos, server.url)
    assert stats["samples"] == 3 + 3 * 3 and server.count() == 12
    _funnel_balances(stats)
    ds = _load(tmp_path / "ja-instruct")
    assert len(ds) == 12 and {r["json"]["task"] for r in ds} == {"photo_conversation", *COCO_TASKS}
    stats = build_demo_instruct(tmp_path / "ja-instruct", photos, server.url)
    assert stats["samples"] == 12 and server.count() == 12


def test_cli_reports_a_missing_key_clearly(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    ann, images = _coco_input(tmp_path, 1)
    result = CliRunner().invoke(app, ["build", "instruct", "--source", "coco", "--input", str(ann), "--images",
                                      str(images), "--output", str(tmp_path / "out"), "--set",
                                      f"llm.base_url={server.url}"])
    assert result.exit_code == 2 and "OPENAI_API_KEY" in result.output
    assert server.count() == 0
    result = CliRunner().invoke(app, ["build", "instruct", "--source", "coco", "--input", str(ann), "--output",
                                      str(tmp_path / "out2"), "--set", "llm.provider=vllm", "--set",
                                      f"llm.base_url={server.url}"])
    assert result.exit_code == 2 and "--images" in result.output
