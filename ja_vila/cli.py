"""The ``ja-vila`` command: one entry point, a subcommand per capability.

    ja-vila demo --out demo-out        # the whole chain on the embedded sample
    ja-vila --help                     # everything else
"""

from __future__ import annotations

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
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    setup_logging(verbose)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for every output of the demo.")] = Path("demo-out"),
    seed: Annotated[int, typer.Option(help="Seed for everything random (same seed, same outputs).")] = 0,
) -> None:
    """Run every capability on the embedded sample, offline, and print where the outputs are."""
    from ja_vila.demo import format_summary, run_demo

    summary = run_demo(out, seed=seed)
    print(format_summary(summary, out))


# -- ja-vila build ... ---------------------------------------------------------------------------
build_app = typer.Typer(help="Build the datasets (ja-pairs, ja-interleaved, ja-instruct).", no_args_is_help=True)
app.add_typer(build_app, name="build")


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
    from dataset_builders.config import ConfigError, load_config
    from dataset_builders.instruct import InstructConfig, build_instruct
    from dataset_builders.llm.secrets import MissingAPIKey

    try:
        cfg = load_config(InstructConfig, config, overrides)
        stats = build_instruct(source, list(inputs), output, cfg, images_dir=images)
    except (ConfigError, MissingAPIKey, ValueError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    usage = stats.get("llm_usage") or {}
    print(f"{output}: {stats['samples']} samples in {stats['shards']} shard(s)"
          + (f"; LLM: {usage['requests']} requests, {usage['cache_hits']} cache hits, "
             f"budget_exhausted {usage['budget_exhausted']}" if usage else ""))


if __name__ == "__main__":
    app()
