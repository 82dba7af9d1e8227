"""The ``ja-vila`` command: one entry point, a subcommand per capability.

    ja-vila demo --out demo-out        # the whole chain on the embedded sample
    ja-vila --help                     # everything else
"""

from __future__ import annotations

from pathlib import Path

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
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    setup_logging(verbose)


@app.command()
def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for every output of the demo."),
    seed: int = typer.Option(0, help="Seed for everything random (same seed, same outputs)."),
) -> None:
    """Run every capability on the embedded sample, offline, and print where the outputs are."""
    from ja_vila.demo import format_summary, run_demo

    summary = run_demo(out, seed=seed)
    print(format_summary(summary, out))


if __name__ == "__main__":
    app()
