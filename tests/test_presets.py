"""Every preset in configs/ loads through its own loader, and every model it names exists.

The paper presets name open_clip models and tags that open_clip knows, architectures that build
at random init, well-formed Hub ids; a build whose NSFW head has no weights refuses before anything
is read or downloaded (library call and CLI), and the tiny presets still build.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import open_clip
import pytest
import torch
from accelerate.commands.config.config_args import ClusterConfig
from huggingface_hub.utils import validate_repo_id

from dataset_builders.config import load_config
from dataset_builders.instruct.config import InstructConfig
from dataset_builders.interleaved.build import PAPER_SCORER, InterleavedConfig, build_interleaved
from dataset_builders.pairs.build import PAPER_SCORERS, PairsConfig, build_pairs
from dataset_builders.scoring.nsfw import NsfwDetector, NsfwFilter, NsfwHead
from dataset_builders.scoring.preflight import MissingWeights, check_models
from dataset_builders.scoring.presets import PAPER_INTERLEAVED_SCORER, PAPER_NSFW_SCORER, PAPER_PAIR_SCORERS
from dataset_builders.tiny.sample.mini_crawl import build_mini_crawl
from ja_vila.evolve.config import EvolveConfig
from tests.build_helpers import CLI, REPO

CONFIGS = REPO / "configs"
DATA_LOADERS = {"pairs": PairsConfig, "interleaved": InterleavedConfig, "instruct": InstructConfig}
DATA = sorted((CONFIGS / "data").glob("*.yaml"))
WEB = [p for p in DATA if p.stem.removesuffix("-tiny") in ("pairs", "interleaved")]
# the SSRF guard refuses loopback by default: allow it, so that zero requests means nothing tried
LOOPBACK = ['web.download.allow_networks=["127.0.0.1/32"]', "web.download.frequent_domain_max_share=null"]


def data_config(path: Path, *overrides: str):
    return load_config(DATA_LOADERS[path.stem.removesuffix("-tiny")], path, list(overrides))


def builder_scorers(cfg) -> dict[str, dict]:
    """The builder's own scorer configs by config key, as its first line checks them."""
    return {f"scorers.{k}": v for k, v in cfg.scorers.items()} if isinstance(cfg, PairsConfig) else {"scorer": cfg.scorer}


def scorer_configs(cfg) -> dict[str, dict]:
    return builder_scorers(cfg) if cfg.nsfw is None else {"nsfw.scorer": cfg.nsfw.scorer, **builder_scorers(cfg)}


def preflight(cfg) -> None:
    """What the builder runs first (its one line, repeated here so it runs without the build)."""
    check_models(cfg.nsfw, builder_scorers(cfg), {"tokenizer": cfg.tokenizer} if isinstance(cfg, InterleavedConfig) else None)


def open_clip_named() -> set[tuple[str, str]]:
    """(model, tag) of every open_clip scorer in the presets, the builders' defaults and the paper constants."""
    configs = [c for p in WEB for c in scorer_configs(data_config(p)).values()]
    configs += [c for cls in (PairsConfig, InterleavedConfig) for c in scorer_configs(load_config(cls)).values()]
    configs += [PAPER_NSFW_SCORER, PAPER_INTERLEAVED_SCORER, *PAPER_PAIR_SCORERS.values()]
    return {(c["model"], c["pretrained"]) for c in configs if c["type"] == "open_clip"}


NAMED = open_clip_named()


def _hf_text(arch: str) -> bool:
    return "hf_model_name" in (open_clip.get_model_config(arch) or {}).get("text_cfg", {})


# -- every preset loads ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", DATA, ids=lambda p: p.name)
def test_data_preset_loads_through_the_builders_loader(path):
    cfg = data_config(path)  # a preset of an unknown family is a KeyError here: add its loader above
    assert isinstance(cfg, DATA_LOADERS[path.stem.removesuffix("-tiny")])


@pytest.mark.parametrize("path", sorted((CONFIGS / "train").glob("*.yaml")), ids=lambda p: p.name)
def test_train_preset_parses_with_trl(path):
    from training.train import parse_args

    # --use_cpu: the paper presets ask for bf16, which TrainingArguments refuses on a machine without a GPU
    vila, training = parse_args(["--config", str(path), "--use_cpu", "true"])
    for ref in (vila.model_name_or_path, vila.vision_model_name_or_path, vila.llm_model_name_or_path):
        if ref is not None and not ref.startswith("out/"):  # out/stepN: the previous step's folder
            validate_repo_id(ref)
    assert training.per_device_train_batch_size >= 1


@pytest.mark.parametrize("path", sorted((CONFIGS / "evolve").glob("*.yaml")), ids=lambda p: p.name)
def test_evolve_preset_loads(path):
    cfg = load_config(EvolveConfig, path)
    assert (REPO / cfg.train.config).is_file()  # the training preset it points at exists


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=lambda p: p.name)
def test_accelerate_preset_loads(path):
    assert ClusterConfig.from_yaml_file(str(path)).num_processes >= 1


# -- every named model exists ----------------------------------------------------------------------

def test_paper_presets_name_the_paper_models_from_one_place():
    pairs, interleaved = data_config(CONFIGS / "data" / "pairs.yaml"), data_config(CONFIGS / "data" / "interleaved.yaml")
    assert pairs.scorers == PAPER_PAIR_SCORERS == PAPER_SCORERS == load_config(PairsConfig).scorers
    assert interleaved.scorer == PAPER_INTERLEAVED_SCORER == PAPER_SCORER == load_config(InterleavedConfig).scorer
    assert pairs.nsfw.scorer == interleaved.nsfw.scorer == PAPER_NSFW_SCORER


def test_every_named_open_clip_model_and_tag_exists():
    known = set(open_clip.list_pretrained())
    assert {m for m, _ in NAMED} >= {PAPER_NSFW_SCORER["model"], PAPER_INTERLEAVED_SCORER["model"]}
    assert sorted(NAMED - known) == []


def test_nsfw_scorer_embeds_to_the_size_the_laion_head_takes():
    assert open_clip.get_model_config(PAPER_NSFW_SCORER["model"])["embed_dim"] == NsfwHead().input_dim


@pytest.mark.parametrize(
    "arch", [pytest.param(a, marks=pytest.mark.slow) if _hf_text(a) else a for a in sorted({m for m, _ in NAMED})]
)
def test_every_named_open_clip_architecture_builds_at_random_init(arch):
    cfg = open_clip.get_model_config(arch)
    size = cfg["vision_cfg"]["image_size"]
    torch.manual_seed(0)
    if _hf_text(arch):
        # open_clip reads an HF text tower's config from the Hub (AutoConfig.from_pretrained) even at
        # random init, and nothing may download here: build the vision tower, check the text config
        from open_clip.hf_model import _POOLERS
        from open_clip.model import _build_vision_tower

        text = cfg["text_cfg"]
        validate_repo_id(text["hf_model_name"])
        validate_repo_id(text.get("hf_tokenizer_name", text["hf_model_name"]))
        assert text.get("hf_pooler_type", "mean_pooler") in _POOLERS
        encode = _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"]).eval()
    else:
        encode = open_clip.create_model(arch, pretrained=None).eval().encode_image
    with torch.inference_mode():
        features = encode(torch.rand(1, 3, size, size))
    assert features.shape == (1, cfg["embed_dim"]) and torch.isfinite(features).all()


def test_japanese_clip_is_checked_as_far_as_offline_allows():
    jaclip = PAPER_PAIR_SCORERS["japanese_clip"]
    validate_repo_id(jaclip["model"])  # resolved (and its remote code run) only when the scorer loads
    assert jaclip["type"] == "transformers" and jaclip["trust_remote_code"] is True


# -- fail closed -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", WEB, ids=lambda p: p.name)
def test_models_of_every_builder_preset_resolve_and_only_a_tiny_preset_runs_a_random_head(path, tmp_path):
    cfg = data_config(path)
    if path.stem.endswith("-tiny"):
        assert cfg.nsfw.head.random and cfg.nsfw.head.weights is None
        preflight(cfg)
        return
    assert not cfg.nsfw.head.random
    with pytest.raises(MissingWeights) as info:
        preflight(cfg)
    message = str(info.value)
    assert message.startswith("nsfw.head.weights is not set") and "\n" not in message
    assert "LAION-AI/CLIP-based-NSFW-Detector" in message and "--set nsfw.head.weights=" in message
    # with the head given, nothing else is missing: the scorers it names resolve
    (tmp_path / "model.safetensors").write_bytes(b"")
    preflight(data_config(path, f"nsfw.head.weights={tmp_path}"))
    with pytest.raises(MissingWeights, match="no such file"):
        preflight(data_config(path, f"nsfw.head.weights={tmp_path / 'nope.safetensors'}"))


def test_preflight_names_every_unresolvable_model():
    cfg = data_config(CONFIGS / "data" / "pairs.yaml", "nsfw.head.random=true",
                      "scorers.openclip_xlmr_h14.pretrained=laion5b_s13b_b90k",  # the tag the registry once named
                      "scorers.japanese_clip.model=./models/no-such-clip", "nsfw.scorer.model=ViT-L/14")
    with pytest.raises(MissingWeights) as info:
        preflight(cfg)
    problems = str(info.value).split("; ")
    assert [p.split(" ")[0].split("=")[0] for p in problems] == [
        "nsfw.scorer.model", "scorers.openclip_xlmr_h14.pretrained", "scorers.japanese_clip.model"]
    assert "frozen_laion5b_s13b_b90k" in problems[1]  # says which tags exist


def test_nsfw_filter_without_weights_refuses_before_its_clip_is_fetched():
    with pytest.raises(MissingWeights, match="nsfw.head.weights is not set"):
        NsfwFilter({"type": "tiny"}, {"seed": 0})
    # HF_HUB_OFFLINE is set: building this CLIP would fail with open_clip's error, not ours
    with pytest.raises(MissingWeights):
        NsfwDetector(dict(PAPER_NSFW_SCORER), None)
    with pytest.raises(MissingWeights, match="keep one"):
        NsfwFilter({"type": "tiny"}, {"weights": "org/head", "random": True})


def test_interleaved_paper_preset_refuses_before_reading_its_input(tmp_path):
    with pytest.raises(MissingWeights, match="nsfw.head.weights"):
        build_interleaved([tmp_path / "no-such.warc.gz"], tmp_path / "out", data_config(CONFIGS / "data" / "interleaved.yaml"))
    assert list(tmp_path.iterdir()) == []


def test_paper_preset_without_nsfw_weights_downloads_nothing_and_tiny_still_builds(tmp_path, image_server):
    warc = build_mini_crawl(tmp_path / "crawl", image_server.base_url)
    before = sum(image_server.hits.values())
    with pytest.raises(MissingWeights, match="nsfw.head.weights is not set"):
        build_pairs([warc], tmp_path / "paper", data_config(CONFIGS / "data" / "pairs.yaml", *LOOPBACK))
    assert sum(image_server.hits.values()) == before
    assert not (tmp_path / "paper").exists() and not (tmp_path / "paper.work").exists()
    # the CLI: one `error:` line, a non-zero exit, still no request
    proc = subprocess.run(
        CLI + ["build", "pairs", "--input", str(warc), "--output", str(tmp_path / "cli"),
               "--config", str(CONFIGS / "data" / "pairs.yaml"), *[a for o in LOOPBACK for a in ("--set", o)]],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "LAION-AI/CLIP-based-NSFW-Detector" in errors[0] and "nsfw.head.weights=" in errors[0]
    assert sum(image_server.hits.values()) == before and not (tmp_path / "cli.work").exists()
    # the same crawl under the tiny preset downloads its images and builds; the card says the head is random
    stats = build_pairs([warc], tmp_path / "tiny", data_config(CONFIGS / "data" / "pairs-tiny.yaml"))
    assert sum(image_server.hits.values()) > before and stats["samples"] > 0
    assert "random NSFW head (plumbing only)" in (tmp_path / "tiny" / "README.md").read_text(encoding="utf-8")
