"""The ``ja-vila`` command: one entry point, a subcommand per capability.

    ja-vila demo --out demo-out        # the whole chain on the embedded sample
    ja-vila --help                     # everything else
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from ja_vila.logs import setup_logging

app = typer.Typer(
    name="ja-vila",
    help="Build Japanese vision-language datasets, train LLM-jp-3 VILA, evaluate and release to the Hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging (and tracebacks).")] = False) -> None:
    setup_logging(verbose)


@contextmanager
def _user_errors(*also: type[BaseException], code: int = 2) -> Iterator[None]:
    """The user's mistakes (:class:`~dataset_builders.errors.UserInputError` and ``also``) end as one
    line ``error: …`` and exit ``code`` (with ``-v`` after their traceback); any other exception is a
    bug and propagates with its traceback."""
    from dataset_builders.errors import UserInputError

    try:
        yield
    except (UserInputError, *also) as e:
        if logging.getLogger().isEnabledFor(logging.DEBUG):  # -v
            traceback.print_exc()
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(code) from e


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for every output of the demo.")] = Path("demo-out"),
    seed: Annotated[int, typer.Option(help="Seed for everything random (same seed, same outputs).")] = 0,
) -> None:
    """Run every capability on the embedded sample, offline, and print where the outputs are."""
    from ja_vila.demo import format_summary, run_demo

    print(format_summary(run_demo(out, seed=seed, progress=lambda line: print(line, flush=True))))


# -- ja-vila build ... ---------------------------------------------------------------------------
build_app = typer.Typer(help="Build the datasets (ja-pairs, ja-interleaved, ja-instruct).", no_args_is_help=True)
app.add_typer(build_app, name="build")


Inputs = Annotated[list[Path], typer.Option("--input", help="WARC files (.warc[.gz]), JSONL corpora (.jsonl[.gz]) or folders of them (repeatable).")]
Output = Annotated[Path, typer.Option("--output", help="Dataset folder to write (shards, README.md, stats.json).")]
ConfigPath = Annotated[Path | None, typer.Option("--config", help="YAML preset from configs/data/.")]
Overrides = Annotated[list[str] | None, typer.Option("--set", help="Config override key.sub=value (repeatable), e.g. executor.tasks=8.")]
Tasks = Annotated[int | None, typer.Option("--tasks", help="Shard the work into this many tasks (same result for any number).")]
Workers = Annotated[int | None, typer.Option("--workers", help="Tasks run at once (local: processes on this machine; Slurm/Ray: a cap, default none).")]
WorkDir = Annotated[Path | None, typer.Option("--work-dir", help="Intermediate files, logs and resume state (default: OUTPUT.work beside the output).")]
Restart = Annotated[bool, typer.Option("--restart", help="Discard the work dir and the output's shards and build from scratch (a re-run otherwise continues, and refuses other settings).")]


def _run_web_builder(kind: str, inputs, output, config, overrides, tasks, workers, work_dir, restart=False) -> None:
    """Load the config, apply --tasks/--workers, run the builder, print the funnel; errors exit 2."""
    from dataset_builders.config import load_config
    from dataset_builders.errors import cannot_write
    from dataset_builders.funnel import Funnel
    from dataset_builders.pipeline.manifest import discard_build
    from dataset_builders.pipeline.stage import SlurmDryRun, StageIncomplete

    if kind == "pairs":
        from dataset_builders.pairs.build import PairsConfig as cls
        from dataset_builders.pairs.build import build_pairs as build
    else:
        from dataset_builders.interleaved.build import InterleavedConfig as cls
        from dataset_builders.interleaved.build import build_interleaved as build
    overrides = list(overrides or [])
    overrides += [f"executor.tasks={tasks}"] if tasks else []
    overrides += [f"executor.workers={workers}"] if workers else []
    try:
        with _user_errors():
            cfg = load_config(cls, config, overrides)
            if restart:
                discard_build(output, work_dir)
            stats = build(list(inputs), output, cfg, work_dir=work_dir)
    except SlurmDryRun as e:
        print(e)
        return
    except StageIncomplete as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    except OSError as e:  # disk full / read-only outside a stage (merges, the card): one line too
        if (err := cannot_write(e)) is None:
            raise
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from e
    print(Funnel.from_list(stats["funnel"]).to_markdown())
    print(f"\n{output}: {stats['samples']} samples in {stats['shards']} shard(s); card {output / 'README.md'}")
    if stats["samples"] == 0:
        print("the dataset is empty: no sample survived (the funnel above shows where each input was dropped)")


@build_app.command("pairs")
def build_pairs_cmd(inputs: Inputs, output: Output, config: ConfigPath = None, overrides: Overrides = None,
                    tasks: Tasks = None, workers: Workers = None, work_dir: WorkDir = None,
                    restart: Restart = False) -> None:
    """ja-pairs: image / Japanese alt-text pairs, COYO-style, with two CLIP scores (resumable)."""
    _run_web_builder("pairs", inputs, output, config, overrides, tasks, workers, work_dir, restart)


@build_app.command("interleaved")
def build_interleaved_cmd(inputs: Inputs, output: Output, config: ConfigPath = None, overrides: Overrides = None,
                          tasks: Tasks = None, workers: Workers = None, work_dir: WorkDir = None,
                          restart: Restart = False) -> None:
    """ja-interleaved: documents with 2–5 images placed between sentences, MMC4-style (resumable)."""
    _run_web_builder("interleaved", inputs, output, config, overrides, tasks, workers, work_dir, restart)


@build_app.command("instruct")
def build_instruct_cmd(
    source: Annotated[str, typer.Option("--source", help="coco (captions+boxes → LLM), photos (images → VLM) or vqa (convert).")],
    inputs: Annotated[list[Path], typer.Option("--input", help="Annotations / photo folder or shards / VQA file (repeatable).")],
    output: Annotated[Path, typer.Option("--output", help="Dataset folder (shards, README.md, stats.json, llm_cache/).")],
    config: Annotated[Path | None, typer.Option("--config", help="YAML preset, e.g. configs/data/instruct.yaml.")] = None,
    images: Annotated[Path | None, typer.Option("--images", help="Folder of the images the annotations / VQA rows refer to.")] = None,
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config override key.sub=value (repeatable), e.g. llm.max_requests=100.")] = None,
) -> None:
    """Generate Japanese instruction conversations (LLaVA-style, photo conversations, converted VQA).

    Resumable: re-run the same command after an interruption; finished requests come from the cache.
    The API key is read from the environment (OPENAI_API_KEY, AZURE_OPENAI_API_KEY or llm.api_key_env).
    """
    from dataset_builders.config import load_config
    from dataset_builders.instruct import InstructConfig, build_instruct
    from dataset_builders.llm.secrets import MissingAPIKey

    with _user_errors(MissingAPIKey):
        cfg = load_config(InstructConfig, config, overrides)
        stats = build_instruct(source, list(inputs), output, cfg, images_dir=images)
    usage = stats.get("llm_usage") or {}
    print(f"{output}: {stats['samples']} samples in {stats['shards']} shard(s)"
          + (f"; LLM: {usage['requests']} requests, {usage['cache_hits']} cache hits, "
             f"budget_exhausted {usage['budget_exhausted']}" if usage else ""))


# -- ja-vila quality --labels PAGES.jsonl --root DIR ---------------------------------------------
@app.command("quality")
def quality_cmd(
    labels: Annotated[Path, typer.Option("--labels", help="Labelled pages (JSONL), e.g. realdata/labels/pages.jsonl.")],
    root: Annotated[Path, typer.Option("--root", help="Folder the labels' `source` paths are relative to.")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config override key.sub=value as in `build` (both builders; "
                                                        "prefix pairs. or interleaved. for one), e.g. web.image_size.min_side=200.")] = None,
    pairs_config: Annotated[Path | None, typer.Option("--pairs-config", help="YAML preset for the pairs builder (default: the paper's).")] = None,
    interleaved_config: Annotated[Path | None, typer.Option("--interleaved-config", help="YAML preset for the interleaved builder (default: the paper's).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON report here (figures + per-page decisions).")] = None,
) -> None:
    """Measure extraction on labelled pages: content images, caption-worthy alts, main text, harmful-word drops.

    Runs both builders' own extraction and every rule that decides before download (same code and
    config keys as `build`), page by page, and compares with the labels.
    """
    from dataset_builders.atomic import atomic_write_json
    from dataset_builders.config import ConfigError
    from dataset_builders.quality.evaluate import evaluate_labels, format_table, load_quality_configs
    from dataset_builders.quality.labels import LabelsError

    try:
        configs = load_quality_configs(pairs_config, interleaved_config, overrides)
        report = evaluate_labels(labels, root, configs)
    except (ConfigError, LabelsError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    print(f"{report['pages']} labelled pages ({labels})")
    print(format_table(report))
    if out is not None:
        atomic_write_json(out, report)
        print(f"report: {out}")


# -- ja-vila eval ------------------------------------------------------------------------------
@app.command("eval")
def eval_cmd(
    model: Annotated[str, typer.Option("--model", help="Model folder or Hub id (any image-text-to-text model).")],
    tasks: Annotated[str, typer.Option("--tasks", help="Comma-separated: heron_bench, ja_vlm_bench_in_the_wild, "
                                       "ja_vg_vqa_500, textvqa (OCR tokens in the prompt), textvqa_no_ocr.")]
    = "heron_bench,ja_vlm_bench_in_the_wild,ja_vg_vqa_500,textvqa",
    judge: Annotated[str | None, typer.Option("--judge", help="Judge model, e.g. gpt-4o-2024-05-13 (none: judge scores are skipped).")] = None,
    judge_runs: Annotated[int | None, typer.Option("--judge-runs", help="Ask the judge N times per item (each run cached apart); the report gives the mean and the spread. Default 1, or the protocol's.")] = None,
    protocol: Annotated[str | None, typer.Option("--protocol", help="Preset: paper = judge gpt-4o-2024-05-13, temperature 0, seed 0, 5 judge runs for heron_bench and ja_vlm_bench_in_the_wild.")] = None,
    judge_base_url: Annotated[str | None, typer.Option("--judge-base-url", help="OpenAI-compatible endpoint of the judge (vLLM, SGLang, a proxy).")] = None,
    judge_api_key_env: Annotated[str | None, typer.Option("--judge-api-key-env", help="Variable holding the judge's key (default OPENAI_API_KEY for OpenAI).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N items of every task.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for predictions, report.json, report.md, model-index.yaml.")] = Path("eval-out"),
    data: Annotated[list[str] | None, typer.Option("--data", help="TASK=FOLDER_OR_HUB_ID: read a task from a local folder, offline (repeatable); default: the task's Hub dataset (downloads).")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Questions per generate() call.")] = 8,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens", help="Answer length cap (default per task).")] = None,
    prompt_format: Annotated[str, typer.Option("--prompt-format", help="auto (chat template if any, else llmjp_v3), chat_template or llmjp_v3.")] = "auto",
    device: Annotated[str | None, typer.Option("--device", help="cuda, cuda:1, cpu (default: cuda when available).")] = None,
    dtype: Annotated[str, typer.Option("--dtype", help="auto (bfloat16 on GPU, float32 on CPU), float32, bfloat16, float16.")] = "auto",
) -> None:
    """Evaluate a model on the Japanese benchmarks and TextVQA; judge scores carry the judge model and prompt version."""
    from dataset_builders.errors import UserInputError
    from dataset_builders.llm.secrets import MissingAPIKey
    from eval.evaluate import EvalConfig, evaluate, parse_tasks
    from eval.metrics.judge import JudgeSettings
    from eval.protocol import get_protocol, judge_runs_for
    from eval.report import to_markdown
    from eval.runner import GenerationSettings

    with _user_errors(MissingAPIKey):
        names = parse_tasks(tasks)
        preset = get_protocol(protocol) if protocol else None
        if preset and judge is None:
            judge = preset.judge_model
        elif preset and judge != preset.judge_model:
            typer.echo(f"warning: --judge {judge} is not the {preset.name} protocol's judge ({preset.judge_model}); "
                       "the report records the judge used", err=True)
        runs = judge_runs_for(names, preset, judge_runs)
        sources = {}
        for entry in data or []:
            task, sep, source = entry.partition("=")
            if not sep or not task.strip() or not source.strip():
                raise UserInputError(f"--data {entry!r}: expected TASK=FOLDER_OR_HUB_ID")
            sources[task.strip()] = source.strip()
        judge_settings = (JudgeSettings(model=judge, base_url=judge_base_url, api_key_env=judge_api_key_env)
                          if judge else None)
        if judge_base_url and not judge:
            raise UserInputError("--judge-base-url needs --judge MODEL (the model name the endpoint serves)")
        if judge_runs is not None and not judge:
            raise UserInputError("--judge-runs needs a judge: --judge MODEL (or --protocol paper)")
        generation = GenerationSettings(batch_size=batch_size, max_new_tokens=max_new_tokens,
                                        prompt_format=prompt_format, device=device, dtype=dtype)
        report = evaluate(EvalConfig(model=model, out_dir=out, tasks=names, judge=judge_settings, limit=limit,
                                     data=sources, generation=generation, judge_runs=runs, protocol=protocol))
    print(to_markdown(report))
    print(f"report: {out / 'report.json'}")


# -- ja-vila convert-vila SRC DST ----------------------------------------------------------------
@app.command("convert-vila")
def convert_vila_cmd(
    src: Annotated[Path, typer.Argument(help="VILA checkpoint folder (llm/, vision_tower/, mm_projector/).")],
    dst: Annotated[Path, typer.Argument(help="Output folder for the transformers Llava model + processor.")],
) -> None:
    """Convert a VILA-format checkpoint (e.g. llm-jp-3-vila-14b) to plain transformers (no trust_remote_code)."""
    from training.convert_vila import VilaFormatError, convert_vila

    with _user_errors(VilaFormatError):
        out = convert_vila(src, dst)
    print(f"{out}: load with AutoModelForImageTextToText.from_pretrained({str(out)!r})")


# -- ja-vila plan-training --config STEP.yaml --gpus N ------------------------------------------
@app.command("plan-training")
def plan_training_cmd(
    config: Annotated[Path, typer.Option("--config", help="A step's training YAML, e.g. configs/train/step1.yaml.")],
    gpus: Annotated[int, typer.Option("--gpus", help="GPUs in the job.")] = 64,
    gpu_memory: Annotated[float, typer.Option("--gpu-memory", help="Memory of one GPU in GB.")] = 80.0,
    mfu: Annotated[float, typer.Option("--mfu", help="Assumed model FLOPs utilisation.")] = 0.4,
    peak_tflops: Annotated[float, typer.Option("--peak-tflops", help="Peak bf16 TFLOP/s of one GPU (A100: 312, H100: 989).")] = 312.0,
    step: Annotated[int | None, typer.Option("--step", help="0, 1 or 2 (default: from the file name).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the plan as JSON here.")] = None,
) -> None:
    """Plan a paper-scale step: parameters, memory per GPU (ZeRO-2/3, FSDP2), FLOPs, tokens, GPU-hours."""
    import json

    from training.plan import format_plan, plan_training

    with _user_errors():
        plan = plan_training(config, gpus, gpu_memory, mfu, peak_tflops, step=step)
    print(format_plan(plan))
    if json_out:
        json_out.write_text(json.dumps(plan.to_dict(), indent=1), encoding="utf-8")


# -- ja-vila release dataset|model ---------------------------------------------------------------
release_app = typer.Typer(help="Verify, stage and push a dataset or model folder to the Hugging Face Hub.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")

RepoOpt = Annotated[str, typer.Option("--repo", help="Hub repo id ORG/NAME.")]
PrivateOpt = Annotated[bool, typer.Option("--private", help="Create the repo private (refused if it exists public).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Verify and stage, print the Hub calls, upload nothing.")]
StageOpt = Annotated[Path | None, typer.Option("--stage", help="Folder to stage the upload in (default: DIR.release beside DIR).")]
LicenseOpt = Annotated[str | None, typer.Option("--license", help="Hub licence id (e.g. cc-by-4.0, apache-2.0), or other with --license-name and --license-link.")]
LicenseNameOpt = Annotated[str | None, typer.Option("--license-name", help="With --license other: a lowercase id for the terms, e.g. my-terms-1.0.")]
LicenseLinkOpt = Annotated[str | None, typer.Option("--license-link", help="With --license other: a URL (or a file in the repo) with the terms.")]


def _release(run) -> None:
    from model_cards.release import ReleaseError

    with _user_errors(ReleaseError):
        plan = run()
    print(plan.describe())
    print(f"\n{'dry run: nothing uploaded' if plan.dry_run else 'released: ' + plan.url}")


@release_app.command("dataset")
def release_dataset_cmd(
    folder: Annotated[Path, typer.Argument(help="Dataset folder written by `ja-vila build` (README.md, stats.json, data/).")],
    repo: RepoOpt,
    license: LicenseOpt = None,  # noqa: A002
    license_name: LicenseNameOpt = None,
    license_link: LicenseLinkOpt = None,
    contact: Annotated[str | None, typer.Option("--contact", help="E-mail address or URL for removal (opt-out / takedown) requests; stated in the card.")] = None,
    private: PrivateOpt = False, dry_run: DryRunOpt = False, stage: StageOpt = None,
) -> None:
    """Release a dataset: load_dataset check, card for the repo (licence, removal contact), stage (no caches/logs), push (HF_TOKEN or hf login)."""
    from model_cards.release import release_dataset

    _release(lambda: release_dataset(folder, repo, license=license, license_name=license_name,
                                     license_link=license_link, contact=contact, private=private, dry_run=dry_run,
                                     stage_dir=stage))


@release_app.command("model")
def release_model_cmd(
    folder: Annotated[Path, typer.Argument(help="Model folder (training/stepN.py output or `ja-vila convert-vila`).")],
    repo: RepoOpt,
    eval_report: Annotated[Path | None, typer.Option("--eval-report", help="report.json of `ja-vila eval` (table + model-index).")] = None,
    license: LicenseOpt = None,  # noqa: A002
    license_name: LicenseNameOpt = None,
    license_link: LicenseLinkOpt = None,
    base_model: Annotated[list[str] | None, typer.Option("--base-model", help="Hub id of a base model (repeatable; default: what step 0 assembled from, when on the Hub).")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", help="Hub id of a training dataset (repeatable).")] = None,
    force_model_index: Annotated[bool, typer.Option("--force-model-index", help="Also publish numbers that are not benchmark results (fixture data, part of a benchmark, a scripted judge) in model-index (warns).")] = False,
    private: PrivateOpt = False, dry_run: DryRunOpt = False, stage: StageOpt = None,
) -> None:
    """Release a model: from_pretrained check, card (architecture, training, evaluation, usage), stage, push."""
    from model_cards.release import release_model

    _release(lambda: release_model(folder, repo, eval_report=eval_report, private=private, dry_run=dry_run,
                                   stage_dir=stage, license=license, license_name=license_name,
                                   license_link=license_link, base_models=base_model, datasets=dataset,
                                   force_model_index=force_model_index))


# -- ja-vila preview DIR -------------------------------------------------------------------------
@app.command("preview")
def preview_cmd(
    folder: Annotated[Path, typer.Argument(help="Dataset folder (pairs, interleaved or instruct).")],
    out: Annotated[Path | None, typer.Option("--out", help="HTML file to write (default: DIR/../NAME-preview.html).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Samples shown at most.")] = 60,
) -> None:
    """Write a self-contained HTML gallery of a dataset (images embedded, all text escaped)."""
    from model_cards.preview import PreviewError, write_preview

    with _user_errors(PreviewError):
        path = write_preview(folder, out, limit=limit)
    print(f"{path}: open it in a browser")


# -- ja-vila evolve --config configs/evolve/NAME.yaml --out DIR ---------------------------------
@app.command("evolve")
def evolve_cmd(
    config: Annotated[Path, typer.Option("--config", help="YAML preset from configs/evolve/ (tiny, paper).")],
    out: Annotated[Path, typer.Option("--out", help="Run folder: gen_XX/ (model, failures, tasks, dataset), metrics.json, evolution.png.")],
    overrides: Annotated[list[str] | None, typer.Option("--set", help="Config override key.sub=value (repeatable), e.g. generations=3.")] = None,
) -> None:
    """Evolve a VL fine-tuning dataset generation by generation (task, qa or multi_agent mode; resumable:
    re-run the same command and finished generations are skipped)."""
    from dataset_builders.config import load_config
    from dataset_builders.llm.secrets import MissingAPIKey
    from ja_vila.evolve import EvolveConfig, run_evolve

    with _user_errors(MissingAPIKey):
        result = run_evolve(load_config(EvolveConfig, config, overrides), out)
    for g in result["generations"]:
        print(f"generation {g['generation']}: score {g['score']:.4f}, diversity {g['diversity']:.3f}, "
              f"{g['samples']} samples")
    print(f"{out}: {result['status']} ({result['generations_done']} generation(s)); metrics {out / 'metrics.json'}")
    if result["status"] == "generation_empty":  # not complete: the next run redoes that generation
        typer.echo(f"error: {result['error']}", err=True)
        raise typer.Exit(1)
    if result["status"] == "budget_exhausted":
        raise typer.Exit(3)


if __name__ == "__main__":
    app()
