"""Import contract: layers point down only (``make lint`` runs this after ruff).

    python tools/check_layers.py [--root DIR]

Every ``import`` of the project's own packages — module-level, function-local, under
``TYPE_CHECKING`` or through ``importlib.import_module("...")`` with a literal name — must name a
module of the same layer or of a lower one. Exit status 1 and one ``file:line`` line per upward
import otherwise. Parsed with :mod:`ast`, so nothing is imported and no dependency is needed.

The layers, lowest first (a module takes the rank of its longest prefix in :data:`LAYERS`):

0 core      ``dataset_builders``' top-level modules (atomic writes, images, schema, shards, funnel,
            keys, phash, dataset folder, project metadata) and ``dataset_builders.tiny`` (the
            embedded sample, its tokenizer, tiny models, synthetic images)
1 builders  every other ``dataset_builders`` subpackage (web, download, text, llm, scoring,
            pipeline, pairs, interleaved, instruct), ``training``, ``eval``, ``model_cards``
2 apps      ``ja_vila`` (CLI, demo, loopback servers, evolve) and ``model_cards.release``
3 fixtures  ``ja_vila.testing``: pytest fixtures, which nothing in the toolkit imports
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

CORE, BUILDERS, APPS, FIXTURES = range(4)
NAMES = {CORE: "core", BUILDERS: "builders", APPS: "apps", FIXTURES: "fixtures"}

#: Package or module → layer; the longest matching prefix decides.
LAYERS: dict[str, int] = {
    "dataset_builders": CORE,
    "dataset_builders.tiny": CORE,
    "training": BUILDERS,
    "eval": BUILDERS,
    "model_cards": BUILDERS,
    "model_cards.release": APPS,
    "ja_vila": APPS,
    "ja_vila.testing": FIXTURES,
}
#: Subpackages of these packages that LAYERS does not list take this layer (a new builder
#: subpackage is a builder without editing this file); their top-level modules keep the package's.
SUBPACKAGE_DEFAULT: dict[str, int] = {"dataset_builders": BUILDERS}


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    module: str
    imported: str
    from_layer: int
    to_layer: int

    def __str__(self) -> str:
        return (f"{self.path}:{self.line}: {self.module} ({NAMES[self.from_layer]}) imports {self.imported} "
                f"({NAMES[self.to_layer]}): layers point down only, move the code or invert the dependency")


def layer_of(module: str, root: Path) -> int | None:
    """The layer of a dotted module name, or None when it is not one of the project's packages."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in LAYERS:
            if i == 1 and prefix in SUBPACKAGE_DEFAULT and len(parts) > 1 and (root / prefix / parts[1]).is_dir():
                return SUBPACKAGE_DEFAULT[prefix]
            return LAYERS[prefix]
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str | None, level: int, importer: str, is_package: bool) -> str:
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imported_names(tree: ast.AST, importer: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every import in ``tree``, wherever it sits."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "") if node.level == 0 else _resolve_relative(node.module, node.level, importer, is_package)
            # `from pkg import sub` may import a submodule: judge pkg.sub (an attribute resolves to pkg's layer)
            found += [(node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base) for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def check(root: Path) -> tuple[list[Violation], int]:
    """Every upward import under ``root``, and how many project-internal imports were checked."""
    root = root.resolve()
    violations: list[Violation] = []
    checked = 0
    for package in sorted({name.split(".")[0] for name in LAYERS}):
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(path, root)
            here = layer_of(module, root)
            if here is None:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, imported in imported_names(tree, module, path.name == "__init__.py"):
                there = layer_of(imported, root)
                if there is None:
                    continue
                checked += 1
                if there > here:
                    violations.append(Violation(path.relative_to(root), line, module, imported, here, there))
    return sorted(violations, key=lambda v: (str(v.path), v.line, v.imported)), checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    violations, checked = check(args.root)
    for v in violations:
        print(v)
    if violations:
        print(f"layers: {len(violations)} upward import(s); the layer map is in tools/check_layers.py and CONTRIBUTING.md")
        return 1
    print(f"layers: {checked} internal imports point down or sideways")
    return 0


if __name__ == "__main__":
    sys.exit(main())
