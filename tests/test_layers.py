"""The import contract (``tools/check_layers.py``, run by ``make lint``): layers point down only."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT / "tools" / "check_layers.py"
PACKAGES = ("dataset_builders", "training", "eval", "model_cards", "ja_vila")


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_layers", CHECKER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


check_layers = _load_checker()


def _run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), "--root", str(root)], capture_output=True, text=True,
                          timeout=120)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _copy_of_the_project(dest: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, dest / package,
                        ignore=lambda folder, names: [n for n in names if n == "__pycache__"
                                                      or ((Path(folder) / n).is_file() and not n.endswith(".py"))])
    return dest


def test_the_project_passes():
    result = _run(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    n = int(re.search(r"layers: (\d+) internal imports", result.stdout).group(1))
    assert n > 100  # it really read the packages


def test_an_upward_import_in_a_copy_of_the_project_fails(tmp_path):
    """The deliberate violation the issue asks for: core code reaching into the test fixtures."""
    root = _copy_of_the_project(tmp_path)
    atomic = root / "dataset_builders" / "atomic.py"
    lines = atomic.read_text(encoding="utf-8").splitlines()
    lines += ["", "", "def _fixture_corpus():", "    from ja_vila.testing.corpus import write_sample_corpus  # upward", "",
              "    return write_sample_corpus"]
    atomic.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_line = len(lines) - 2

    result = _run(root)
    assert result.returncode == 1
    assert (f"dataset_builders/atomic.py:{bad_line}: dataset_builders.atomic (core) imports "
            "ja_vila.testing.corpus.write_sample_corpus (fixtures)") in result.stdout
    assert "1 upward import(s)" in result.stdout  # nothing else in the copy is flagged


@pytest.mark.parametrize(("files", "expected"), [
    # core → builders at module level
    ({"dataset_builders/keys.py": "from model_cards.dataset_card import DatasetCardInfo\n"},
     "dataset_builders/keys.py:1: dataset_builders.keys (core) imports model_cards.dataset_card.DatasetCardInfo (builders)"),
    # builders → apps inside a function, through `from pkg import submodule`
    ({"eval/report.py": "def f():\n    from ja_vila import demo\n"},
     "eval/report.py:2: eval.report (builders) imports ja_vila.demo (apps)"),
    # under TYPE_CHECKING still counts
    ({"training/demo.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ja_vila.testing.corpus\n"},
     "training/demo.py:3: training.demo (builders) imports ja_vila.testing.corpus (fixtures)"),
    # importlib with a literal name
    ({"model_cards/dataset_card.py": "import importlib\nm = importlib.import_module('model_cards.release')\n"},
     "model_cards/dataset_card.py:2: model_cards.dataset_card (builders) imports model_cards.release (apps)"),
    # a relative import resolved against its package
    ({"dataset_builders/tiny/models.py": "from ..pipeline import stage\n"},
     "dataset_builders/tiny/models.py:1: dataset_builders.tiny.models (core) imports dataset_builders.pipeline.stage (builders)"),
    # a new dataset_builders subpackage is a builder without being listed: core may not import it
    ({"dataset_builders/rules/__init__.py": "", "dataset_builders/schema.py": "from dataset_builders.rules import x\n"},
     "dataset_builders/schema.py:1: dataset_builders.schema (core) imports dataset_builders.rules.x (builders)"),
])
def test_each_kind_of_upward_import_is_named(tmp_path, files, expected):
    root = _tree(tmp_path, {"dataset_builders/__init__.py": "", "dataset_builders/pipeline/__init__.py": "", **files})
    result = _run(root)
    assert result.returncode == 1, result.stdout
    assert expected in result.stdout


def test_downward_and_sideways_imports_pass(tmp_path):
    root = _tree(tmp_path, {
        "dataset_builders/__init__.py": "",
        "dataset_builders/atomic.py": "import os\nimport numpy\n",  # third-party: not the contract's business
        "dataset_builders/schema.py": "from dataset_builders.atomic import x\nfrom dataset_builders.tiny import models\n",
        "dataset_builders/rules/__init__.py": "from dataset_builders.pipeline import stage\n",  # builder → builder
        "dataset_builders/pipeline/__init__.py": "from . import stage\n",
        "training/train.py": "from eval.report import to_markdown\nfrom dataset_builders import atomic\n",
        "model_cards/release/__init__.py": "from model_cards.dataset_card import render\n",  # apps → builders
        "ja_vila/demo.py": "from ja_vila.servers.image_server import ImageServer\nimport model_cards.release\n",
        "ja_vila/testing/corpus.py": "from ja_vila.demo import run_demo\n",  # fixtures may use everything
    })
    result = _run(root)
    assert result.returncode == 0, result.stdout
    assert "layers: 10 internal imports" in result.stdout


def test_layer_map():
    layer = check_layers.layer_of
    assert layer("dataset_builders.atomic", ROOT) == check_layers.CORE
    assert layer("dataset_builders.tiny.models", ROOT) == check_layers.CORE
    assert layer("dataset_builders.pipeline.stage", ROOT) == check_layers.BUILDERS
    assert layer("model_cards.release", ROOT) == check_layers.APPS
    assert layer("ja_vila.evolve.run", ROOT) == check_layers.APPS
    assert layer("ja_vila.testing.corpus", ROOT) == check_layers.FIXTURES
    assert layer("datatrove.pipeline.base", ROOT) is None


def test_make_lint_runs_the_checker_after_ruff():
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1)
    commands = [line.strip() for line in recipe.splitlines()]
    assert any("ruff check" in c for c in commands)
    assert commands.index("$(BIN)/python tools/check_layers.py") > next(
        i for i, c in enumerate(commands) if "ruff check" in c)
