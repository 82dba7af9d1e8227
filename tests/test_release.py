"""`ja-vila release dataset|model`: verified, carded, staged exactly, pushed through an injectable
Hub client (no network), and the token never written anywhere."""

from __future__ import annotations

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
from eval.report import model_index
from ja_vila.cli import app
from ja_vila.testing.tiny_models import save_tiny_llava
from model_cards.dataset_card import card_info_from_card
from model_cards.release import ReleaseError, release_dataset, release_model
from model_cards.release import hub as hub_module
from tests.release_helpers import MAKERS, make_pairs
from training.chat_template import LLMJP_V3_CHAT_TEMPLATE

MARKER = "hf_test_MARKER_123"
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
    plan = release_dataset(src, f"llm-jp/ja-{kind}", dry_run=True, stage_dir=tmp_path / "stage",
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
    assert "ORG/NAME" not in card.text
    assert Funnel.from_list(stats["funnel"]).to_markdown() in card.text
    source_info = card_info_from_card(DatasetCard.load(src / "README.md"))
    assert card_info_from_card(card) == source_info  # thresholds, sources, description carried over
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
    """Rendering a card again from what it holds gives the same card (only the repo id changes)."""
    src = make_pairs(tmp_path / "ja-pairs")
    plan = release_dataset(src, "ORG/NAME", dry_run=True, stage_dir=tmp_path / "stage")
    original = (src / "README.md").read_text(encoding="utf-8").replace('"ORG/ja-pairs"', '"ORG/NAME"')
    assert (plan.stage_dir / "README.md").read_text(encoding="utf-8") == original


def test_push_goes_through_the_injected_client_and_the_token_is_never_written(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    caplog.set_level("DEBUG")
    src = MAKERS["interleaved"](tmp_path / "ja-interleaved")
    plan = release_dataset(src, "llm-jp/ja-interleaved", private=True, stage_dir=tmp_path / "stage",
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
    dry = runner.invoke(app, ["release", "dataset", str(src), "--repo", "llm-jp/ja-pairs", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "create_repo(repo_id='llm-jp/ja-pairs'" in dry.output and "upload_folder(" in dry.output
    assert "dry run: nothing uploaded" in dry.output and not FakeHub.instances
    assert (tmp_path / "ja-pairs.release" / "README.md").is_file()  # default stage: beside the folder
    real = runner.invoke(app, ["release", "dataset", str(src), "--repo", "llm-jp/ja-pairs"])
    assert real.exit_code == 0, real.output
    assert "released: https://huggingface.co/datasets/llm-jp/ja-pairs" in real.output
    assert [n for n, _ in FakeHub.instances[0].calls] == ["create_repo", "upload_folder"]
    assert MARKER not in dry.output + real.output
    bad = runner.invoke(app, ["release", "dataset", str(src), "--repo", "not a repo", "--dry-run"])
    assert bad.exit_code == 2 and "ORG/NAME" in bad.output


def test_push_retries_server_errors_honouring_retry_after_and_stops_on_auth_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs")
    slept: list[float] = []
    plan = release_dataset(src, "llm-jp/ja-pairs", stage_dir=tmp_path / "stage", sleep=slept.append,
                           hub_factory=lambda t: FakeHub(t, fail=[http_error(503, retry_after="7"), http_error(502)]))
    client = FakeHub.instances[-1]
    assert [n for n, _ in client.calls] == ["create_repo", "upload_folder", "upload_folder", "upload_folder"]
    assert slept == [7.0, 4.0] and plan.pushed  # Retry-After, then exponential backoff (2 s × 2)
    with pytest.raises(ReleaseError, match="refused the token") as e:
        release_dataset(src, "llm-jp/ja-pairs", stage_dir=tmp_path / "stage", sleep=slept.append,
                        hub_factory=lambda t: FakeHub(t, fail=[http_error(403)]))
    assert MARKER not in str(e.value)
    assert [n for n, _ in FakeHub.instances[-1].calls] == ["create_repo", "upload_folder"]  # no retry on 403


def test_private_release_refuses_an_existing_public_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs")
    with pytest.raises(ReleaseError, match="exists and is public"):
        release_dataset(src, "llm-jp/ja-pairs", private=True, stage_dir=tmp_path / "stage",
                        hub_factory=lambda t: FakeHub(t, public=True))
    assert "upload_folder" not in [n for n, _ in FakeHub.instances[-1].calls]


def test_a_token_inside_the_card_stops_the_release_without_printing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    src = make_pairs(tmp_path / "ja-pairs", description=f"Pasted by mistake: {MARKER}")
    with pytest.raises(ReleaseError, match="contains your Hugging Face token") as e:
        release_dataset(src, "llm-jp/ja-pairs", stage_dir=tmp_path / "stage", hub_factory=FakeHub)
    assert MARKER not in str(e.value) and not FakeHub.instances  # refused before any client existed


def test_no_token_fails_before_any_work_unless_dry_run(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    with pytest.raises(ReleaseError, match="HF_TOKEN"):
        release_dataset(src, "llm-jp/ja-pairs", stage_dir=tmp_path / "stage", hub_factory=FakeHub)
    assert not (tmp_path / "stage").exists()
    assert release_dataset(src, "llm-jp/ja-pairs", dry_run=True, stage_dir=tmp_path / "stage").dry_run


def test_unfinished_or_changed_folders_are_refused(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    (src / "data" / "train-00000-00002.tar.tmp").write_bytes(b"partial")
    with pytest.raises(ReleaseError, match="re-run the same `ja-vila build`"):
        release_dataset(src, "llm-jp/ja-pairs", dry_run=True)
    (src / "data" / "train-00000-00002.tar.tmp").unlink()
    (src / "data" / "train-00000-00001.tar").unlink()
    with pytest.raises(ReleaseError, match="lists 2 shard"):
        release_dataset(src, "llm-jp/ja-pairs", dry_run=True)
    with pytest.raises(ReleaseError, match="no stats.json"):
        release_dataset(tmp_path / "empty-folder-that-is-not-a-dataset", "llm-jp/x", dry_run=True) if (
            tmp_path / "empty-folder-that-is-not-a-dataset").mkdir() is None else None


def test_restaging_is_incremental_and_refuses_foreign_files(tmp_path):
    src = make_pairs(tmp_path / "ja-pairs")
    stage = tmp_path / "stage"
    release_dataset(src, "llm-jp/ja-pairs", dry_run=True, stage_dir=stage)
    shard = stage / "data" / "train-00000-00000.tar"
    inode = shard.stat().st_ino
    (stage / "data" / "train-00000-00009.tar").write_bytes(b"left by an earlier, bigger build")
    release_dataset(src, "llm-jp/ja-pairs", dry_run=True, stage_dir=stage)
    assert shard.stat().st_ino == inode  # unchanged file kept
    assert not (stage / "data" / "train-00000-00009.tar").exists()  # stale shard of ours removed
    (stage / "secrets.env").write_text("x", encoding="utf-8")
    with pytest.raises(ReleaseError, match="not part of this release"):
        release_dataset(src, "llm-jp/ja-pairs", dry_run=True, stage_dir=stage)
    with pytest.raises(ReleaseError, match="outside"):
        release_dataset(src, "llm-jp/ja-pairs", dry_run=True, stage_dir=src / "release")


# -- model release --------------------------------------------------------------------------------
def _report(model_dir: Path) -> dict:
    tasks = {
        "heron_bench": {"title": "Japanese-Heron-Bench", "task_type": "visual-question-answering",
                        "task_label": "Visual Question Answering",
                        "dataset": {"id": "turing-motors/Japanese-Heron-Bench", "source": "hub", "split": "train"},
                        "n_items": 21, "limit": None,
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
         "data": {"samples_ja-instruct": 50, "rows": 26, "kept": 26, "dropped_too_long": 3, "tokens": 5810},
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


def test_model_dry_run_stages_weights_and_a_card_with_evaluation_and_usage(model_folder, tmp_path, monkeypatch):
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
    assert "`siglip_vision_model`" in card.text and "image tokens per image | 4 |" in card.text
    # the usage snippet runs as printed (repo id → the staged folder, a local photo, fewer tokens)
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (48, 48), (200, 40, 40)).save(photo)
    code = _snippet(card.text)
    assert 'model_id = "llm-jp/llm-jp-3-vila-tiny"' in code and 'pipeline("image-text-to-text"' in code
    monkeypatch.chdir(tmp_path)
    code = code.replace('"llm-jp/llm-jp-3-vila-tiny"', repr(str(stage))).replace("max_new_tokens=256", "max_new_tokens=3")
    exec(compile(code, "card-snippet", "exec"), {})


def test_model_push_without_report_says_not_evaluated(model_folder, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HF_TOKEN", MARKER)
    caplog.set_level("DEBUG")
    folder, _ = model_folder
    plan = release_model(folder, "llm-jp/tiny", stage_dir=tmp_path / "stage", hub_factory=FakeHub)
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
                                      str(report_path), "--dry-run", "--stage", str(tmp_path / "stage")])
    assert result.exit_code == 0, result.output
    assert "create_repo(repo_id='llm-jp/tiny', repo_type='model'" in result.output
    assert "model.safetensors" in result.output and "training_args.bin" not in result.output.split("staged folder")[1]
    missing = CliRunner().invoke(app, ["release", "model", str(folder), "--repo", "llm-jp/tiny", "--eval-report",
                                       str(tmp_path / "nope.json"), "--dry-run"])
    assert missing.exit_code == 2 and "report.json" in missing.output
