"""`ja-vila release dataset|model`: verified, carded, staged exactly, pushed through an injectable
Hub client (no network), and the token never written anywhere."""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path

import datasets
import httpx2
import pytest
from huggingface_hub import DatasetCard, DatasetCardData, HfApi, ModelCard, ModelCardData
from huggingface_hub.constants import REPO_TYPES
from huggingface_hub.errors import HfHubHTTPError
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from typer.testing import CliRunner

from dataset_builders.funnel import Funnel
from dataset_builders.tiny.models import save_tiny_llava
from eval.report import model_index
from ja_vila.cli import app
from model_cards.card_checks import CardError, check_card
from model_cards.dataset_card import card_info_from_card, dataset_card_for_repo
from model_cards.release import ReleaseError, release_dataset, release_model
from model_cards.release import hub as hub_module
from tests.release_helpers import MAKERS, make_instruct, make_pairs
from training.chat_template import LLMJP_V3_CHAT_TEMPLATE

MARKER = "hf_test_MARKER_123"
#: What every dataset release states: a Hub licence and where removal requests go.
TERMS = {"license": "cc-by-4.0", "contact": "takedown@example.org"}
TERM_ARGS = ["--license", "cc-by-4.0", "--contact", "takedown@example.org"]
RELEASED = {"README.md", "stats.json"}


def _hfapi_arguments(method: str, args: tuple, kwargs: dict) -> dict:
    """The call bound to ``huggingface_hub.HfApi.<method>``'s real signature: a keyword HfApi does not
    take (or a missing required one) raises TypeError here, as it would against the Hub."""
    bound = inspect.signature(getattr(HfApi, method)).bind(None, *args, **kwargs)
    arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
    if arguments.get("repo_type") is not None:
        assert arguments["repo_type"] in REPO_TYPES, arguments["repo_type"]
    return arguments


class FakeHub:
    """Records every call (and the files present at upload time) instead of talking to the Hub; each
    method accepts exactly what the ``HfApi`` method of the same name accepts."""

    instances: list[FakeHub] = []

    def __init__(self, token: str, public: bool = False, fail: list[BaseException] | None = None):
        self.token, self.public, self.fail = token, public, list(fail or [])
        self.calls: list[tuple[str, dict]] = []
        self.uploaded: list[str] = []
        FakeHub.instances.append(self)

    def _record(self, method: str, args: tuple, kwargs: dict) -> dict:
        arguments = _hfapi_arguments(method, args, kwargs)
        self.calls.append((method, arguments))
        return arguments

    def create_repo(self, *args, **kwargs):
        arguments = self._record("create_repo", args, kwargs)
        return f"https://huggingface.co/{arguments['repo_id']}"

    def repo_info(self, *args, **kwargs):
        self._record("repo_info", args, kwargs)
        return type("Info", (), {"private": not self.public})()

    def upload_folder(self, *args, **kwargs):
        arguments = self._record("upload_folder", args, kwargs)
        if self.fail:
            raise self.fail.pop(0)
        root = Path(arguments["folder_path"])
        self.uploaded = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return "commit-url"


def test_fake_hub_rejects_what_hfapi_rejects(tmp_path):
    hub = FakeHub("t")
    with pytest.raises(TypeError):
        hub.upload_folder(repo_id="a/b", folder=str(tmp_path))  # HfApi's keyword is folder_path
    with pytest.raises(TypeError):
        hub.upload_folder(repo_id="a/b")  # folder_path is required
    with pytest.raises(TypeError):
        hub.create_repo("a/b", "dataset")  # repo_type is keyword-only
    with pytest.raises(TypeError):
        hub.create_repo(repo_id="a/b", repo_type="dataset", exists_ok=True)  # a misspelt keyword
    with pytest.raises(AssertionError):
        hub.create_repo(repo_id="a/b", repo_type="datasets")
    assert hub.calls == []
    hub.create_repo("a/b", repo_type="dataset", private=True, exist_ok=True)
    assert hub.calls == [("create_repo", {"repo_id": "a/b", "repo_type": "dataset", "private": True,
                                          "exist_ok": True})]


def http_error(status: int, retry_after: str | None = None) -> HfHubHTTPError:
    headers = {"Retry-After": retry_after} if retry_after else {}
    response = httpx2.Response(status, headers=headers, request=httpx2.Request("POST", "https://huggingface.co/api/x"))
    return HfHubHTTPError(f"HTTP {status}", response=response)


@pytest.fixture(autouse=True)
def _no_saved_token(monkeypatch, tmp_path):
    """Only the token a test sets exists (no login of the machine running the suite)."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    FakeHub.instances.clear()


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def load_rows(folder: Path, cache: Path) -> list[dict]:
    return list(datasets.load_dataset(str(folder), split="train", cache_dir=str(cache)))


# -- dataset release ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_dataset_dry_run_stages_exactly_the_release_and_the_card_is_rendered_for_the_repo(kind, tmp_path):
    src = MAKERS[kind](tmp_path / f"ja-{kind}")
    stats = json.loads((src / "stats.json").read_text(encoding="utf-8"))
    factory_calls = []
    plan = release_dataset(src, f"llm-jp/ja-{kind}", **TERMS, dry_run=True, stage_dir=tmp_path / "stage",
                           hub_factory=lambda token: factory_calls.append(token))
    stage = tmp_path / "stage"
    shards = {f"data/{p.name}" for p in (src / "data").glob("*.tar")}
    assert len(shards) == stats["shards"] == 2
    # exactly card + stats + shards: no llm_cache/, stats/, logs, .tmp
    assert files_under(stage) == RELEASED | shards == {f.path for f in plan.files}
    assert not factory_calls and not plan.pushed  # a dry run makes no client
    assert [c.method for c in plan.calls] == ["create_repo", "upload_folder"]
    assert plan.calls[0].kwargs == {"repo_id": f"llm-jp/ja-{kind}", "repo_type": "dataset", "private": False, "exist_ok": True}
    assert plan.calls[1].kwargs["folder_path"] == str(stage) and plan.calls[1].kwargs["delete_patterns"] == ["data/*"]
    text = plan.describe()
    assert "would run" in text and "create_repo(repo_id='llm-jp/ja-" in text and "exist_ok=True" in text
    assert all(f.path in text for f in plan.files)
    # the card: parsed as the Hub parses it, metadata round trip, repo id in both load lines
    card = DatasetCard.load(stage / "README.md", ignore_metadata_errors=False)
    data = card.data.to_dict()
    assert DatasetCardData(**data).to_dict() == data
    assert DatasetCard(str(card)).data.to_dict() == data
    assert data["configs"][0]["data_files"][0]["path"] == "data/*.tar"
    assert f'load_dataset("llm-jp/ja-{kind}", split="train")' in card.text
    assert f'load_dataset("llm-jp/ja-{kind}", split="train", streaming=True)' in card.text
    assert "row = next(iter(stream))" in card.text and "ORG/" not in card.text
    assert Funnel.from_list(stats["funnel"]).to_markdown() in card.text
    source_info = card_info_from_card(DatasetCard.load(src / "README.md"))
    # thresholds, sources, description, limits carried over; licence, contact and repo id set by the release
    assert card_info_from_card(card) == dataclasses.replace(source_info, repo_id="", **TERMS)
    assert check_card(card, "dataset") is None
    assert "Synthetic images made by the test (CC0)." in card.text and "**cut**" in card.text
    # the staged folder loads like the source (private caches: datasets caches by folder/shard names)
    rows = load_rows(stage, tmp_path / "cache-stage")
    assert [r["__key__"] for r in rows] == [r["__key__"] for r in load_rows(src, tmp_path / "cache-src")]
    assert len(rows) == stats["samples"] == plan.verified["rows"]
    streamed = list(datasets.load_dataset(str(stage), split="train", streaming=True, cache_dir=str(tmp_path / "c3")))
    assert len(streamed) == len(rows)
    # staging links, never moves: the source is untouched
    assert (src / "llm_cache" / "ab" / "abcdef.json").is_file() and (src / "build.log").is_file()


def test_card_round_trip_is_exact(tmp_path):
    """Rendering a card again from what it holds gives the same card."""
    src = make_pairs(tmp_path / "ja-pairs")
    plan = release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=tmp_path / "stage")
    released = DatasetCard.load(plan.stage_dir / "README.md")
    stats = json.loads((src / "stats.json").read_text(encoding="utf-8"))
    assert str(dataset_card_for_repo(released, stats, "llm-jp/ja-pairs")) == str(released)
    again = release_dataset(plan.stage_dir, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=tmp_path / "stage2")
    assert (again.stage_dir / "README.md").read_text(encoding="utf-8") == str(released)


def test_push_goes_through_the_injected_client_and_the_token_is_never_written(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    caplog.set_level("DEBUG")
    src = MAKERS["interleaved"](tmp_path / "ja-interleaved")
    plan = release_dataset(src, "llm-jp/ja-interleaved", **TERMS, private=True, stage_dir=tmp_path / "stage",
                           hub_factory=FakeHub)
    (client,) = FakeHub.instances
    assert client.token == MARKER  # the token from the environment reached the client ...
    assert [name for name, _ in client.calls] == ["create_repo", "repo_info", "upload_folder"]
    assert client.calls[0][1] == {"repo_id": "llm-jp/ja-interleaved", "repo_type": "dataset", "private": True,
                                  "exist_ok": True}
    upload = client.calls[2][1]
    assert upload["folder_path"] == str(tmp_path / "stage") and upload["repo_type"] == "dataset"
    assert set(client.uploaded) == {f.path for f in plan.files} and "llm_cache" not in " ".join(client.uploaded)
    assert plan.pushed and plan.url == "https://huggingface.co/datasets/llm-jp/ja-interleaved"
    # ... and nowhere else: staged files (every byte), logs, output, the plan
    for f in (tmp_path / "stage").rglob("*"):
        if f.is_file():
            assert MARKER.encode() not in f.read_bytes(), f
    assert MARKER not in caplog.text and caplog.text  # something was logged, without the token
    out = capsys.readouterr()
    assert MARKER not in out.out + out.err
    assert MARKER not in plan.describe() + repr(plan)


def test_cli_release_dataset_dry_run_and_push(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    monkeypatch.setattr(hub_module, "default_hub", FakeHub)
    src = MAKERS["pairs"](tmp_path / "ja-pairs")
    runner = CliRunner()
    dry = runner.invoke(app, ["release", "dataset", str(src), "--repo", "llm-jp/ja-pairs", *TERM_ARGS, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "create_repo(repo_id='llm-jp/ja-pairs'" in dry.output and "upload_folder(" in dry.output
    assert "dry run: nothing uploaded" in dry.output and not FakeHub.instances
    assert (tmp_path / "ja-pairs.release" / "README.md").is_file()  # default stage: beside the folder
    real = runner.invoke(app, ["release", "dataset", str(src), "--repo", "llm-jp/ja-pairs", *TERM_ARGS])
    assert real.exit_code == 0, real.output
    assert "released: https://huggingface.co/datasets/llm-jp/ja-pairs" in real.output
    assert [n for n, _ in FakeHub.instances[0].calls] == ["create_repo", "upload_folder"]
    assert MARKER not in dry.output + real.output
    bad = runner.invoke(app, ["release", "dataset", str(src), "--repo", "not a repo", *TERM_ARGS, "--dry-run"])
    assert bad.exit_code == 2 and "ORG/NAME" in bad.output


def test_push_retries_server_errors_honouring_retry_after_and_stops_on_auth_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs")
    slept: list[float] = []
    plan = release_dataset(src, "llm-jp/ja-pairs", **TERMS, stage_dir=tmp_path / "stage", sleep=slept.append,
                           hub_factory=lambda t: FakeHub(t, fail=[http_error(503, retry_after="7"), http_error(502)]))
    client = FakeHub.instances[-1]
    assert [n for n, _ in client.calls] == ["create_repo", "upload_folder", "upload_folder", "upload_folder"]
    assert slept == [7.0, 4.0] and plan.pushed  # Retry-After, then exponential backoff (2 s × 2)
    with pytest.raises(ReleaseError, match="refused the token") as e:
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, stage_dir=tmp_path / "stage", sleep=slept.append,
                        hub_factory=lambda t: FakeHub(t, fail=[http_error(403)]))
    assert MARKER not in str(e.value)
    assert [n for n, _ in FakeHub.instances[-1].calls] == ["create_repo", "upload_folder"]  # no retry on 403


def test_private_release_refuses_an_existing_public_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs")
    with pytest.raises(ReleaseError, match="exists and is public"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, private=True, stage_dir=tmp_path / "stage",
                        hub_factory=lambda t: FakeHub(t, public=True))
    assert "upload_folder" not in [n for n, _ in FakeHub.instances[-1].calls]


def test_a_token_inside_the_card_stops_the_release_without_printing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs", description=f"Pasted by mistake: {MARKER}")
    with pytest.raises(ReleaseError, match="contains your Hugging Face token") as e:
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, stage_dir=tmp_path / "stage", hub_factory=FakeHub)
    assert MARKER not in str(e.value) and not FakeHub.instances  # refused before any client existed


def test_no_token_fails_before_any_work_unless_dry_run(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    with pytest.raises(ReleaseError, match="HF_TOKEN"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, stage_dir=tmp_path / "stage", hub_factory=FakeHub)
    assert not (tmp_path / "stage").exists()
    assert release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=tmp_path / "stage").dry_run


def test_unfinished_or_changed_folders_are_refused(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    (src / "data" / "train-00000-00002.tar.tmp").write_bytes(b"partial")
    with pytest.raises(ReleaseError, match="re-run the same `ja-vila build`"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True)
    (src / "data" / "train-00000-00002.tar.tmp").unlink()
    (src / "data" / "train-00000-00001.tar").unlink()
    with pytest.raises(ReleaseError, match="lists 2 shard"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True)
    with pytest.raises(ReleaseError, match="no stats.json"):
        release_dataset(tmp_path / "empty-folder-that-is-not-a-dataset", "llm-jp/x", **TERMS, dry_run=True) if (
            tmp_path / "empty-folder-that-is-not-a-dataset").mkdir() is None else None


def test_restaging_is_incremental_and_refuses_foreign_files(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    stage = tmp_path / "stage"
    release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=stage)
    shard = stage / "data" / "train-00000-00000.tar"
    inode = shard.stat().st_ino
    (stage / "data" / "train-00000-00009.tar").write_bytes(b"left by an earlier, bigger build")
    release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=stage)
    assert shard.stat().st_ino == inode  # unchanged file kept
    assert not (stage / "data" / "train-00000-00009.tar").exists()  # stale shard of ours removed
    (stage / "secrets.env").write_text("x", encoding="utf-8")
    with pytest.raises(ReleaseError, match="not part of this release"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=stage)
    with pytest.raises(ReleaseError, match="outside"):
        release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=src / "release")


# -- model release --------------------------------------------------------------------------------
def _report(model_dir: Path) -> dict:
    tasks = {
        "heron_bench": {"title": "Japanese-Heron-Bench", "task_type": "visual-question-answering",
                        "task_label": "Visual Question Answering",
                        "dataset": {"id": "turing-motors/Japanese-Heron-Bench", "source": "hub", "split": "train"},
                        "n_items": 103, "limit": None,
                        "metrics": [{"name": "heron_relative", "label": "Heron-Bench relative score", "value": 42.125,
                                     "details": {}, "judge_model": "gpt-4o-2024-05-13",
                                     "judge_prompt_version": "ja-vila-heron-bench/v1", "skipped": None}]},
        "ja_vg_vqa_500": {"title": "JA-VG-VQA-500", "task_type": "visual-question-answering",
                          "task_label": "Visual Question Answering",
                          "dataset": {"id": "SakanaAI/JA-VG-VQA-500", "source": "hub", "split": "test"},
                          "n_items": 500, "limit": None,
                          "metrics": [{"name": "rougel", "label": "ROUGE-L (eval-mm, MeCab)", "value": 17.5,
                                       "details": {"n": 500}, "skipped": None}]},
    }
    report = {"schema": "ja-vila-eval/1", "model": str(model_dir), "model_name": "step2",
              "generation": {"do_sample": False, "max_new_tokens": 64, "prompt_format": "chat_template", "batch_size": 8},
              "judge": {"model": "gpt-4o-2024-05-13", "temperature": 0.0, "seed": 0,
                        "prompt_versions": {"heron_judge": "ja-vila-heron-bench/v1"}},
              "tasks": tasks}
    report["model-index"] = model_index(report)
    return report


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("model")
    folder = save_tiny_llava(root / "step2")
    processor = AutoProcessor.from_pretrained(folder)
    processor.chat_template = LLMJP_V3_CHAT_TEMPLATE  # as training/assemble.py saves it
    processor.save_pretrained(folder)
    (folder / "vila_step_summary.json").write_text(json.dumps(
        {"step": 2, "global_step": 12, "finished": True, "world_size": 1, "losses": [6.5, 6.0, 5.25],
         "parameters": {"trainable": 1000, "frozen": 50},
         "data": {"rows": 26, "row_tokens": 5810, "exact": True, "sources": {"ja-instruct": {
             "read": 29, "kept": 26, "truncated": 0, "samples": 26, "tokens": 5810, "label_tokens": 900, "images": 26,
             "passes": 1, "dropped": {"too_long": 3}}}},
         "output_dir": str(folder)}), encoding="utf-8")
    (folder / "training_args.bin").write_bytes(b"pickle")
    (folder / "checkpoint-6").mkdir()
    (folder / "checkpoint-6" / "optimizer.pt").write_bytes(b"x")
    (folder / "trainer_log.txt").write_text("loss 6.5\n", encoding="utf-8")
    report = root / "eval" / "report.json"
    report.parent.mkdir()
    report.write_text(json.dumps(_report(folder)), encoding="utf-8")
    return folder, report


def _snippet(card_text: str) -> str:
    return re.search(r"```python\n(.*?)```", card_text, re.S).group(1)


def test_model_dry_run_stages_weights_and_a_card_with_evaluation_and_usage(model_folder, tmp_path, monkeypatch, capfd,
                                                                          caplog):
    folder, report_path = model_folder
    stage = tmp_path / "stage"
    plan = release_model(folder, "llm-jp/llm-jp-3-vila-tiny", eval_report=report_path, dry_run=True, stage_dir=stage,
                         license="apache-2.0", base_models=["llm-jp/llm-jp-3-13b-instruct"], datasets=["llm-jp/ja-instruct"])
    staged = files_under(stage)
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= staged
    assert not {"training_args.bin", "vila_step_summary.json", "trainer_log.txt"} & staged
    assert not any(p.startswith("checkpoint-") for p in staged)
    assert plan.calls[0].kwargs["repo_type"] == "model" and plan.verified["from_pretrained"] == "LlavaForConditionalGeneration"
    # the staged folder loads with plain transformers
    assert type(AutoModelForImageTextToText.from_pretrained(stage)).__name__ == "LlavaForConditionalGeneration"
    AutoProcessor.from_pretrained(stage)
    # metadata: parsed as the Hub parses it, round trip, model-index from the report
    card = ModelCard.load(stage / "README.md", ignore_metadata_errors=False)
    data = card.data.to_dict()
    assert ModelCardData(**data).to_dict() == data and ModelCard(str(card)).data.to_dict() == data
    assert data["pipeline_tag"] == "image-text-to-text" and data["library_name"] == "transformers"
    check_card(card, "model")  # the Hub's rules, offline
    assert data["base_model"] == ["llm-jp/llm-jp-3-13b-instruct"] and data["datasets"] == ["llm-jp/ja-instruct"]
    results = {(r.dataset_type, r.metric_type): r for r in card.data.eval_results}
    heron = results[("turing-motors/Japanese-Heron-Bench", "heron_bench_relative")]
    assert heron.metric_value == 42.12 or heron.metric_value == 42.13
    assert heron.metric_args == {"judge_model": "gpt-4o-2024-05-13", "judge_prompt_version": "ja-vila-heron-bench/v1"}
    assert results[("SakanaAI/JA-VG-VQA-500", "rougeL")].metric_value == 17.5
    assert data["model-index"][0]["name"] == "llm-jp-3-vila-tiny"
    # body: evaluation table with judge + prompt version, training run, architecture
    assert "| Heron-Bench relative score | 42.12 | gpt-4o-2024-05-13 | ja-vila-heron-bench/v1 |" in card.text
    assert "Judge: `gpt-4o-2024-05-13`" in card.text and "5.250 (last log)" in card.text
    assert "`ja-instruct` 26 samples (5,810 tokens, 26 images)" in card.text and "dropped: too_long 3" in card.text
    assert "`siglip_vision_model`" in card.text and "image tokens per image | 4 |" in card.text
    # the usage snippet runs as printed (repo id → the staged folder, a local photo, fewer tokens)
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (48, 48), (200, 40, 40)).save(photo)
    code = _snippet(card.text)
    assert 'model_id = "llm-jp/llm-jp-3-vila-tiny"' in code and 'pipeline("image-text-to-text"' in code
    monkeypatch.chdir(tmp_path)
    code = code.replace('"llm-jp/llm-jp-3-vila-tiny"', repr(str(stage))).replace("max_new_tokens=256", "max_new_tokens=3")
    capfd.readouterr()
    caplog.clear()
    exec(compile(code, "card-snippet", "exec"), {})
    said = capfd.readouterr().err + caplog.text
    assert "do_sample" not in said and "not a valid argument" not in said  # nothing goes to the processor


def test_model_push_without_report_says_not_evaluated(model_folder, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    caplog.set_level("DEBUG")
    folder, _ = model_folder
    plan = release_model(folder, "llm-jp/tiny", license="apache-2.0", stage_dir=tmp_path / "stage", hub_factory=FakeHub)
    card = ModelCard.load(plan.stage_dir / "README.md", ignore_metadata_errors=False)
    assert "model-index" not in card.data.to_dict() and "Not evaluated yet" in card.text
    client = FakeHub.instances[-1]
    assert client.token == MARKER and [n for n, _ in client.calls] == ["create_repo", "upload_folder"]
    assert client.calls[1][1]["repo_type"] == "model" and "model.safetensors" in client.uploaded
    assert MARKER not in caplog.text
    for f in plan.stage_dir.rglob("*"):
        assert not f.is_file() or MARKER.encode() not in f.read_bytes()


def test_cli_release_model_dry_run(model_folder, tmp_path):
    folder, report_path = model_folder
    result = CliRunner().invoke(app, ["release", "model", str(folder), "--repo", "llm-jp/tiny", "--eval-report",
                                      str(report_path), "--license", "apache-2.0", "--dry-run", "--stage",
                                      str(tmp_path / "stage")])
    assert result.exit_code == 0, result.output
    assert "create_repo(repo_id='llm-jp/tiny', repo_type='model'" in result.output
    assert "model.safetensors" in result.output and "training_args.bin" not in result.output.split("staged folder")[1]
    missing = CliRunner().invoke(app, ["release", "model", str(folder), "--repo", "llm-jp/tiny", "--eval-report",
                                       str(tmp_path / "nope.json"), "--license", "mit", "--dry-run"])
    assert missing.exit_code == 2 and "report.json" in missing.output


def test_model_release_needs_a_licence_the_hub_accepts(model_folder, tmp_path):
    folder, _ = model_folder
    for kwargs, message in [({}, "--license is required"), ({"license": "my-own"}, "not a Hub licence id"),
                            ({"license": "other"}, "license_name"),
                            ({"license": "other", "license_name": "ja-terms"}, "license_link")]:
        with pytest.raises(ReleaseError, match=message):
            release_model(folder, "llm-jp/tiny", dry_run=True, stage_dir=tmp_path / "stage", **kwargs)
    assert not (tmp_path / "stage").exists()  # refused before any work
    plan = release_model(folder, "llm-jp/tiny", dry_run=True, stage_dir=tmp_path / "stage", license="other",
                         license_name="ja-terms-1.0", license_link="https://example.org/terms")
    data = ModelCard.load(plan.stage_dir / "README.md").data.to_dict()
    assert (data["license"], data["license_name"], data["license_link"]) == (
        "other", "ja-terms-1.0", "https://example.org/terms")


# -- the card tells what happened -----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Steps 0 → 1 → 2 of the demo's training on synthetic data: a folder as a real run leaves it."""
    from training.data.synthetic import write_instruct, write_interleaved, write_pairs
    from training.demo import run_demo_training

    root = tmp_path_factory.mktemp("trained")
    data = {"pairs": write_pairs(root / "pairs", n=8), "interleaved": write_interleaved(root / "interleaved", n=4),
            "instruct": write_instruct(root / "instruct", n=8)}
    run_demo_training(data, root / "models", max_steps=2)
    return root / "models" / "step2"


def _card_table(text: str, heading: str) -> dict[str, str]:
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| ([^|]+?) \| (.+?) \|$", section, re.M)}


def test_model_card_reports_the_checkpoints_own_run_and_no_local_path(trained, tmp_path):
    import torch

    stage = tmp_path / "stage"
    plan = release_model(trained, "ORG/tiny-demo", dry_run=True, stage_dir=stage, license="apache-2.0")
    # no absolute local path in any staged file (config.json held the assembly folders)
    roots = [str(trained.parents[1]), str(tmp_path)]
    assert "_name_or_path" in (trained / "config.json").read_text() and str(trained.parents[1]) in (
        trained / "config.json").read_text()
    for f in plan.files:
        data = (stage / f.path).read_bytes()
        assert not any(r.encode() in data for r in roots), f.path
    assert (stage / "config.json").stat().st_ino != (trained / "config.json").stat().st_ino  # written, not linked
    assert AutoModelForImageTextToText.from_pretrained(stage).num_parameters() == plan.verified["parameters"]
    # hyperparameters: the checkpoint's own training arguments, not the published recipe
    args = torch.load(trained / "training_args.bin", weights_only=False)
    card = ModelCard.load(stage / "README.md", ignore_metadata_errors=False)
    table = _card_table(card.text, "## Training")
    assert table["learning rate"] == f"{args.learning_rate:g}"
    assert table["global batch"].startswith(
        f"{args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size} "
        f"({args.per_device_train_batch_size} per device × {args.gradient_accumulation_steps} accumulation")
    assert table["optimizer steps"].startswith(str(args.max_steps))
    assert table["max length"].startswith(f"{args.max_length} tokens")
    assert table["schedule"].startswith(f"`{args.lr_scheduler_type.value}`")
    assert table["optimizer"] == f"`{args.optim.value}`, weight decay {args.weight_decay:g}"
    assert table["seed"] == str(args.seed) and table["precision"] == ("bf16" if args.bf16 else "fp32")
    assert "1024" not in table["global batch"] and "4096" not in table["max length"]
    # architecture and size from the model: a 264K-parameter Llama is not called LLM-jp-3
    n = plan.verified["parameters"]
    assert f"{n:,}" in card.text and "tiny model" in card.text
    assert "LLM-jp-3 VILA architecture" not in card.text and "llm-jp" not in card.data.to_dict()["tags"]
    assert "base_model" not in card.data.to_dict()  # assembled from local folders: none is a Hub id
    assert "local folder `llm`" in card.text


def _fixture_report(model_dir: Path) -> dict:
    report = _report(model_dir)
    report["judge"]["scripted"] = True  # the demo's scripted server
    report["tasks"]["ja_vg_vqa_500"]["dataset"] = {"id": "SakanaAI/JA-VG-VQA-500", "source": "local folder x",
                                                   "split": None, "fixture": "demo fixture"}
    report["tasks"]["ja_vg_vqa_500"]["n_items"] = 6
    report["model-index"] = model_index(report)
    return report


def test_fixture_and_scripted_judge_numbers_stay_out_of_model_index_unless_forced(model_folder, tmp_path, caplog):
    folder, _ = model_folder
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_fixture_report(folder)), encoding="utf-8")
    assert json.loads(path.read_text())["model-index"][0]["results"] == []  # the report itself withholds them
    plan = release_model(folder, "llm-jp/tiny", eval_report=path, dry_run=True, stage_dir=tmp_path / "stage",
                         license="apache-2.0")
    card = ModelCard.load(plan.stage_dir / "README.md", ignore_metadata_errors=False)
    assert "model-index" not in card.data.to_dict()
    assert "42.12 ⚠ not a benchmark result: scripted judge" in card.text
    assert "17.50 ⚠ not a benchmark result: fixture data (demo fixture)" in card.text
    assert "Not benchmark results, so not in this card's `model-index`" in card.text
    assert "left out of model-index" in caplog.text
    caplog.clear()
    forced = release_model(folder, "llm-jp/tiny", eval_report=path, dry_run=True, stage_dir=tmp_path / "stage2",
                           license="apache-2.0", force_model_index=True)
    card = ModelCard.load(forced.stage_dir / "README.md", ignore_metadata_errors=False)
    results = {(r.dataset_type, r.metric_type): r for r in card.data.eval_results}
    assert results[("SakanaAI/JA-VG-VQA-500", "rougeL")].dataset_args["caveats"] == ["fixture data (demo fixture)"]
    heron = results[("turing-motors/Japanese-Heron-Bench", "heron_bench_relative")]
    assert heron.metric_args["caveats"] == ["scripted judge (not a model)"]
    assert "--force-model-index: publishing" in caplog.text and "Warning: this card's `model-index`" in card.text


def test_a_local_path_left_in_a_staged_file_stops_the_release(model_folder, tmp_path):
    from model_cards.release.staging import scrub_local_paths

    clean, removed = scrub_local_paths({"_name_or_path": "/home/me/llm", "text_config": {
        "_name_or_path": "llm-jp/llm-jp-3-13b-instruct", "name_or_path": "./local"}, "vocab": 5})
    assert clean == {"_name_or_path": "", "text_config": {"_name_or_path": "llm-jp/llm-jp-3-13b-instruct",
                                                          "name_or_path": ""}, "vocab": 5}
    assert removed == ["/home/me/llm", "./local"]
    folder, _ = model_folder
    with pytest.raises(ReleaseError, match="names the local folder"):
        release_model(folder, "llm-jp/tiny", dry_run=True, stage_dir=tmp_path / "stage", license="apache-2.0",
                      description=f"Trained in {folder.parent}/runs.")


# -- dataset cards a Hub reader can rely on --------------------------------------------------------
WEB_SECTIONS = ("## Sources and terms", "Crawl dates:", "## Licence", "## Removal requests", "## Personal information",
                "## Known biases and limits", "## Funnel")


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_dataset_card_states_licence_contact_and_what_a_reader_expects(kind, tmp_path):
    src = MAKERS[kind](tmp_path / f"ja-{kind}")
    result = CliRunner().invoke(app, ["release", "dataset", str(src), "--repo", f"llm-jp/ja-{kind}", *TERM_ARGS,
                                      "--dry-run", "--stage", str(tmp_path / "stage")])
    assert result.exit_code == 0, result.output
    card = DatasetCard.load(tmp_path / "stage" / "README.md", ignore_metadata_errors=False)
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["contact"] == "takedown@example.org"  # metadata ...
    assert "`cc-by-4.0`." in card.text and "contact **takedown@example.org**" in card.text  # ... and text
    check_card(card, "dataset")  # the Hub's rules, offline
    for section in WEB_SECTIONS if kind != "instruct" else [s for s in WEB_SECTIONS if s != "Crawl dates:"]:
        assert section in card.text, section
    # every json field says what it holds
    rows = re.findall(r"^\| `json\.([^`]+)` \| [^|]+ \| (.*) \|$", card.text, re.M)
    assert rows and all(doc.strip() for _, doc in rows), rows
    # what is said of one schema is not said of another
    assert ("different numbers of" in card.text) == (kind == "interleaved")
    assert ("public web content" in card.text) == (kind != "instruct")
    assert "ORG/" not in card.text


def test_dataset_release_licence_other_needs_name_and_link_and_a_contact(tmp_path):
    src = make_instruct(tmp_path / "ja-instruct")
    stage = tmp_path / "stage"
    for kwargs, message in [({"contact": "x@example.org"}, "--license is required"),
                            ({"license": "other", "contact": "x@example.org"}, "license_name"),
                            ({"license": "cc-by-4.0"}, "--contact is required"),
                            ({"license": "CC-BY", "contact": "x@example.org"}, "not a Hub licence id")]:
        with pytest.raises(ReleaseError, match=message):
            release_dataset(src, "llm-jp/ja-instruct", dry_run=True, stage_dir=stage, **kwargs)
    plan = release_dataset(src, "llm-jp/ja-instruct", dry_run=True, stage_dir=stage, license="other",
                           license_name="ja-instruct-terms", license_link="https://example.org/terms",
                           contact="https://example.org/takedown")
    card = DatasetCard.load(plan.stage_dir / "README.md", ignore_metadata_errors=False)
    data = card.data.to_dict()
    assert (data["license"], data["license_name"], data["license_link"]) == (
        "other", "ja-instruct-terms", "https://example.org/terms")
    assert "`ja-instruct-terms`: see [https://example.org/terms]" in card.text
    check_card(card, "dataset")
    with pytest.raises(CardError, match="license_link"):  # what a hand-edited card would break
        check_card(DatasetCard(str(card).replace("license_link: https://example.org/terms\n", "")), "dataset")


def test_a_build_with_tiny_scorers_says_so_first_and_the_release_keeps_it(tmp_path):
    from dataset_builders.config import load_config
    from dataset_builders.interleaved.build import InterleavedConfig
    from dataset_builders.interleaved.build import card_info as interleaved_card
    from dataset_builders.pairs.build import PairsConfig
    from dataset_builders.pairs.build import card_info as pairs_card

    configs = Path(__file__).resolve().parents[1] / "configs" / "data"
    tiny = pairs_card(load_config(PairsConfig, configs / "pairs-tiny.yaml"))
    assert "`tiny`" in tiny.warnings[0] and "`tiny_open_clip`" in tiny.warnings[0]
    assert interleaved_card(load_config(InterleavedConfig, configs / "interleaved-tiny.yaml")).warnings
    assert not pairs_card(load_config(PairsConfig, configs / "pairs.yaml")).warnings  # real models: no warning
    assert not interleaved_card(load_config(InterleavedConfig, configs / "interleaved.yaml")).warnings
    src = make_pairs(tmp_path / "ja-pairs")
    card = DatasetCard.load(src / "README.md")
    stats = json.loads((src / "stats.json").read_text(encoding="utf-8"))
    from model_cards.dataset_card import render_dataset_card, schema_from_card

    info = dataclasses.replace(card_info_from_card(card), warnings=tiny.warnings)
    text = str(render_dataset_card(schema_from_card(card, "pairs"), info, Funnel.from_list(stats["funnel"]), 6, 2))
    head = text.split("---\n", 2)[2]
    assert head.split("\n\n")[1] == f"> **Warning:** {tiny.warnings[0]}"  # right under the title
    (src / "README.md").write_text(text, encoding="utf-8")
    plan = release_dataset(src, "llm-jp/ja-pairs", **TERMS, dry_run=True, stage_dir=tmp_path / "stage")
    released = DatasetCard.load(plan.stage_dir / "README.md")
    assert card_info_from_card(released).warnings == tiny.warnings


def test_crawl_dates_come_from_the_samples_warc_dates():
    from model_cards.release.dataset import crawl_dates

    rows = [{"json": {"warc_date": "2024-03-02T10:00:00Z"}}, {"json": {"warc_date": "2023-11-30T01:02:03Z"}},
            {"json": {"warc_date": None}}, {"json": {}}]
    assert crawl_dates(rows).startswith("2023-11-30 … 2024-03-02")
    assert crawl_dates([{"json": {}}]) == ""


def test_docs_never_index_a_streamed_dataset():
    """``load_dataset(..., streaming=True)`` gives an IterableDataset: ``ds[0]`` is not a row."""
    root = Path(__file__).resolve().parents[1]
    for path in [root / "README.md", *sorted((root / "model_cards" / "templates").glob("*.md"))]:
        for block in re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            streamed = set(re.findall(r"^(\w+) = load_dataset\([^\n]*streaming=True", block, re.M))
            for name in streamed:
                after = block.split(f"{name} = load_dataset(", 1)[1]
                assert not re.search(rf"\b{name}\[", after), f"{path.name}: {name}[...] on a streamed dataset"
