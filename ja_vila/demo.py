"""``ja-vila demo``: every capability on the embedded sample, offline, in a few minutes on 2 cores.

The embedded sample (``dataset_builders/tiny/sample/documents.jsonl``) is rendered as a mini-crawl — a WARC of
Japanese web pages whose images a loopback server generates — and goes through the same code a
real build uses, with tiny random models where the real ones would be downloaded:

    crawl → ja-pairs, ja-interleaved, ja-instruct → training steps 0/1/2 → convert-vila round trip
          → evaluation → evolve (one generation) → release dry-run → preview

Outputs: DIR/crawl, DIR/datasets/{ja-pairs,ja-interleaved,ja-instruct}, DIR/models/{step0,step1,step2},
DIR/convert/ (VILA layout and back), DIR/eval/report.json, DIR/evolve/ (evolution.png),
DIR/release/ (staged dry-run uploads with cards), DIR/preview/*.html; intermediate files under
DIR/work. Each stage adds summary rows.

The console gets a line per stage (and each build's funnel, in short); everything a stage writes —
datatrove's pipeline logs and stats, the Trainer's, progress bars, warnings — goes to its log file,
DIR/work/<stage>.log.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataset_builders.config import load_config
from dataset_builders.funnel import Funnel
from dataset_builders.project import PROJECT_URL

logger = logging.getLogger(__name__)

#: Fixed so that image URLs (and the sample keys derived from them) are the same on every run.
DEMO_PORTS = range(47621, 47641)
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "data"
EVOLVE_CONFIG = CONFIGS.parent / "evolve" / "tiny.yaml"
#: The embedded sample and everything made from it are the project's own (pyproject.toml: Apache-2.0).
DEMO_LICENSE = "apache-2.0"
#: Where the demo's (dry-run) dataset cards send removal requests: the project's issue tracker.
DEMO_CONTACT = f"{PROJECT_URL}/issues"


@dataclass
class SummaryRow:
    stage: str
    result: str
    where: str = ""
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)  # extra console lines (a build's funnel, in short)


@dataclass
class DemoContext:
    out: Path
    seed: int
    image_base_url: str
    judge_url: str
    warc: Path | None = None
    datasets: dict[str, Path] = field(default_factory=dict)
    models: dict[str, Path] = field(default_factory=dict)
    rows: list[SummaryRow] = field(default_factory=list)
    eval_markdown: str = ""
    eval_lines: list[str] = field(default_factory=list)

    def add(self, stage: str, result: str, where: Path | str = "", seconds: float = 0.0,
            details: list[str] | None = None) -> None:
        self.rows.append(SummaryRow(stage, result, str(where), seconds, list(details or [])))


def _funnel_line(stats: dict[str, Any]) -> str:
    funnel = Funnel.from_list(stats["funnel"])
    # the readers come first: "<reader> (files)" counts files, then "<reader>" keeps the pages it read
    reader = next(s for s in funnel.stages if not s.name.endswith("(files)"))
    return f"{stats['samples']} samples from {reader.kept} pages ({len(funnel.stages)} counted stages, see README.md)"


def funnel_lines(stats: dict[str, Any], max_reasons: int = 3) -> list[str]:
    """The funnel in short: one line per stage that dropped something (the full table is in README.md)."""
    lines = []
    for stage in Funnel.from_list(stats["funnel"]).stages:
        if not stage.dropped:
            continue
        reasons = sorted(stage.dropped.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{r} {n}" for r, n in reasons[:max_reasons]) + (", …" if len(reasons) > max_reasons else "")
        lines.append(f"{stage.name}: {stage.input} → {stage.kept} ({shown})")
    return lines


def stage_crawl(ctx: DemoContext) -> None:
    from dataset_builders.tiny.sample import load_documents
    from dataset_builders.tiny.sample.mini_crawl import build_mini_crawl

    ctx.warc = build_mini_crawl(ctx.out / "crawl", ctx.image_base_url)
    ctx.add("mini-crawl", f"{len(load_documents())} sample pages as a WARC; images served on loopback", ctx.warc)


def stage_pairs(ctx: DemoContext) -> None:
    from dataset_builders.pairs.build import PairsConfig, build_pairs
    from dataset_builders.pipeline.manifest import discard_build

    out, work = ctx.out / "datasets" / "ja-pairs", ctx.out / "work" / "ja-pairs"
    discard_build(out, work)  # the crawl is new on every run: build from scratch
    stats = build_pairs([ctx.warc], out, load_config(PairsConfig, CONFIGS / "pairs-tiny.yaml"), work_dir=work)
    ctx.datasets["pairs"] = out
    ctx.add("ja-pairs", _funnel_line(stats), out, details=funnel_lines(stats))


def stage_interleaved(ctx: DemoContext) -> None:
    from dataset_builders.interleaved.build import InterleavedConfig, build_interleaved
    from dataset_builders.pipeline.manifest import discard_build

    out, work = ctx.out / "datasets" / "ja-interleaved", ctx.out / "work" / "ja-interleaved"
    cfg = load_config(InterleavedConfig, CONFIGS / "interleaved-tiny.yaml")
    discard_build(out, work)  # the crawl is new on every run: build from scratch
    stats = build_interleaved([ctx.warc], out, cfg, work_dir=work)
    ctx.datasets["interleaved"] = out
    ctx.add("ja-interleaved", _funnel_line(stats), out, details=funnel_lines(stats))


def stage_instruct(ctx: DemoContext) -> None:
    from dataset_builders.instruct.demo import build_demo_instruct
    from dataset_builders.tiny.synthetic_images import make_image

    out = ctx.out / "datasets" / "ja-instruct"
    photos = [(f"photo-{i:02d}", make_image(f"demo-photo-{i}", 640, 480)) for i in range(8)]
    stats = build_demo_instruct(out, photos, ctx.judge_url)
    ctx.datasets["instruct"] = out
    usage = list((stats.get("llm_usage") or {}).values())  # one entry per source (photos, coco)
    requests, hits = sum(u["requests"] for u in usage), sum(u["cache_hits"] for u in usage)
    ctx.add("ja-instruct", f"{stats['samples']} conversations; {requests} LLM requests + {hits} cache hits "
            "to a scripted local server", out)


def stage_train(ctx: DemoContext) -> None:
    try:
        from training.demo import run_demo_training
    except ImportError:
        ctx.add("training", "not available yet (training.demo missing)")
        return
    result = run_demo_training(ctx.datasets, ctx.out / "models", seed=ctx.seed)  # its logs: work/train.log
    for step in ("step0", "step1", "step2"):
        ctx.models[step] = ctx.out / "models" / step
    losses = []
    for step in ("step0", "step1", "step2"):
        values = (result.get(step) or {}).get("losses") or []
        if values:
            losses.append(f"{step} {values[0]:.2f}→{values[-1]:.2f}")
    ctx.add("training 0 → 1 → 2", "tiny Llava; loss first→last: " + (", ".join(losses) or "n/a"), ctx.out / "models",
            details=[line for step in ("step0", "step1", "step2") for line in _trained_lines(step, result.get(step))])


def _trained_lines(step: str, result: dict[str, Any] | None) -> list[str]:
    """What a step trained on, per source (the step's full summary is in its vila_step_summary.json)."""
    sources = ((result or {}).get("data") or {}).get("sources") or {}
    parts = []
    for name, row in sources.items():
        drops = ", ".join(f"{reason} {n}" for reason, n in row["dropped"].items())
        parts.append(f"{name} {row['samples']} samples ({row['tokens']:,} tokens, {row['images']} images"
                     + (f"; dropped {drops}" if drops else "") + ")" + ("  ⚠ nothing trained" if not row["samples"] else ""))
    return [f"{step}: " + "; ".join(parts)] if parts else []


def stage_convert(ctx: DemoContext) -> None:
    """convert-vila: the trained model written in VILA's release layout, converted back, compared."""
    import torch
    from transformers import LlavaForConditionalGeneration

    from training.convert_vila import convert_vila, export_vila

    model = ctx.models.get("step2")
    if model is None:
        return
    vila = export_vila(model, ctx.out / "convert" / "vila-layout")
    converted = convert_vila(vila, ctx.out / "convert" / "transformers")
    before = LlavaForConditionalGeneration.from_pretrained(model).state_dict()
    after = LlavaForConditionalGeneration.from_pretrained(converted).state_dict()
    same = before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    if not same:
        raise RuntimeError(f"convert-vila round trip changed the weights of {model}")
    ctx.add("convert-vila", f"step2 → VILA's layout (llm/, vision_tower/, mm_projector/) → transformers: "
            f"{len(after)} tensors identical", converted)


def stage_evolve(ctx: DemoContext) -> None:
    """evolve: one generation of the tiny preset, from the demo's step-1 model and ja-instruct."""
    from ja_vila.evolve import EvolveConfig, run_evolve

    overrides = ["generations=1"]
    if "step1" in ctx.models:
        overrides.append(f"base_model={ctx.models['step1']}")
    if "instruct" in ctx.datasets:
        overrides.append(f"seed_dataset={ctx.datasets['instruct']}")
    out = ctx.out / "evolve"
    result = run_evolve(load_config(EvolveConfig, EVOLVE_CONFIG, overrides), out)
    g = result["generations"][-1]
    ctx.add("evolve", f"{result['generations_done']} generation: score {g['score']:.3f}, task diversity "
            f"{g['diversity']:.2f}, {g['samples']} samples; proposer and annotator: a scripted local server",
            out / "evolution.png")


def stage_eval(ctx: DemoContext) -> None:
    from eval.demo import run_demo_eval

    model = ctx.models.get("step2")
    if model is None:
        from dataset_builders.tiny.models import save_tiny_llava

        model = save_tiny_llava(ctx.out / "models" / "untrained-tiny", seed=ctx.seed)
    report = run_demo_eval(model, ctx.out / "eval", ctx.judge_url)
    from eval.report import short_lines

    ctx.add("evaluation", f"{model.name} on {len(report['tasks'])} fixture tasks, judged by a scripted local "
            "server: not benchmark results", ctx.out / "eval" / "report.md", details=short_lines(report))
    ctx.eval_markdown = report.get("markdown", "")


def stage_release(ctx: DemoContext) -> None:
    """Release dry-run: verify, write cards, stage the exact folders; nothing is uploaded."""
    from model_cards.release import release_dataset, release_model

    release = ctx.out / "release"
    for name, folder in ctx.datasets.items():
        plan = release_dataset(folder, f"ORG/ja-{name}", license=DEMO_LICENSE, contact=DEMO_CONTACT, dry_run=True,
                               stage_dir=release / f"ja-{name}")
        logger.info("%s", plan.describe())
    staged = [f"ja-{name}" for name in ctx.datasets]
    model = ctx.models.get("step2")
    if model is not None:
        report = ctx.out / "eval" / "report.json"
        plan = release_model(model, "ORG/ja-vila-tiny-demo", eval_report=report if report.is_file() else None,
                             license=DEMO_LICENSE, dry_run=True, stage_dir=release / "model")
        logger.info("%s", plan.describe())
        staged.append("model")
    ctx.add("release (dry run)", f"verified and staged {', '.join(staged)} with generated cards", release)


def stage_preview(ctx: DemoContext) -> None:
    from model_cards.preview import write_preview

    pages = [write_preview(folder, ctx.out / "preview" / f"ja-{name}.html") for name, folder in ctx.datasets.items()]
    ctx.add("preview", f"{len(pages)} HTML galleries (open in a browser)", ctx.out / "preview")


STAGES: list[Callable[[DemoContext], None]] = [
    stage_crawl, stage_pairs, stage_interleaved, stage_instruct, stage_train, stage_convert, stage_eval, stage_evolve,
    stage_release, stage_preview,
]


def _free_port() -> int:
    for port in DEMO_PORTS:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    logger.warning("ports %s-%s are busy: using a random port, so sample keys will differ from other runs",
                   DEMO_PORTS.start, DEMO_PORTS.stop - 1)
    return 0


@contextlib.contextmanager
def stage_log(path: Path):
    """Everything a stage writes goes to ``path``: stdout (the Trainer's logs), stderr (logging records,
    progress bars, warnings) and datatrove's loguru output, whose sinks take ``sys.stderr`` when added —
    so they are re-added inside the redirect and put back on the console after it."""
    from datatrove.utils.logging import setup_default_logger

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        setup_default_logger()
        try:
            yield
        finally:
            setup_default_logger()
    setup_default_logger()


def _quiet_progress_bars() -> None:
    """The libraries' own download / load bars: the demo downloads nothing and loads tiny models."""
    import datasets
    import huggingface_hub
    import transformers

    datasets.disable_progress_bars()
    huggingface_hub.utils.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()


def format_row(row: SummaryRow, width: int = 18) -> list[str]:
    """A stage's console lines: its result (and time), then its details, indented."""
    head = f"{row.stage:<{width}} {row.result}" + (f"  ({row.seconds:.1f}s)" if row.seconds else "")
    return [head, *(f"{'':<{width}}   {d}" for d in row.details)]


def run_demo(out: str | Path, seed: int = 0, progress: Callable[[str], None] | None = None) -> DemoContext:
    """Run every stage into ``out``; ``progress`` gets the console lines as stages finish."""
    from ja_vila.servers.image_server import ImageServer
    from ja_vila.servers.openai_server import ScriptedOpenAIServer

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda line: None)
    _quiet_progress_bars()
    say(f"ja-vila demo → {out.resolve()}  (each stage's log: {out / 'work'}/<stage>.log)")
    with ImageServer(port=_free_port()) as images, ScriptedOpenAIServer() as llm:
        ctx = DemoContext(out=out, seed=seed, image_base_url=images.base_url, judge_url=llm.url)
        for i, stage in enumerate(STAGES, 1):
            name = stage.__name__.removeprefix("stage_")
            t0, n = time.perf_counter(), len(ctx.rows)
            with stage_log(out / "work" / f"{name}.log"):
                stage(ctx)
            if len(ctx.rows) > n:
                ctx.rows[-1].seconds = time.perf_counter() - t0
            for row in ctx.rows[n:]:
                first, *rest = format_row(row)
                say(f"[{i:>2}/{len(STAGES)}] {first}")
                for line in rest:
                    say(f"        {line}")
    return ctx


def format_summary(ctx: DemoContext) -> str:
    """Where every output is (the results were shown as the stages finished)."""
    width = max(len(r.stage) for r in ctx.rows)
    total = sum(r.seconds for r in ctx.rows)
    lines = ["", f"ja-vila demo done in {total:.0f}s — outputs under {ctx.out.resolve()}:"]
    lines += [f"  {r.stage:<{width}}  {r.where}" for r in ctx.rows if r.where]
    return "\n".join(lines)
