"""The `ja-vila` command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from ja_vila.cli import app


def test_help_lists_the_subcommands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output


def test_console_script_is_installed():
    exe = shutil.which("ja-vila", path=str(Path(sys.executable).parent))
    assert exe, "the ja-vila console script is not installed next to this Python (run make setup)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "demo" in out.stdout
