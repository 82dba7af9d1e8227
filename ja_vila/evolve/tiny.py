"""Stand-ins that let ``configs/evolve/tiny.yaml`` run as it is: offline, in seconds, on a laptop.

In an evolve config, three inputs may be the word ``tiny`` and any agent's ``base_url`` the word
``scripted``:

* ``base_model: tiny`` — a tiny random Llava (``dataset_builders.tiny``), written under
  ``OUT/tiny-inputs/base``;
* ``seed_dataset: tiny`` — synthetic colour conversations (``OUT/tiny-inputs/seed``);
* ``eval.data: tiny`` — a TextVQA-style validation folder of colour squares (``OUT/tiny-inputs/val``);
* ``base_url: scripted`` — a loopback :class:`~ja_vila.servers.evolve_server.EvolveScriptedServer`
  started for the run and stopped after it.

Everything else is used as given, so the same preset points at real inputs with ``--set``. The
inputs are written once (deterministically, from ``seed``); a resumed run reuses them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path

from dataset_builders.atomic import atomic_write_text
from ja_vila.evolve.config import EvolveConfig

logger = logging.getLogger(__name__)

TINY = "tiny"
SCRIPTED = "scripted"
INPUTS_DIR = "tiny-inputs"
_DONE = "COMPLETE"


def write_tiny_inputs(root: Path, seed: int = 0) -> dict[str, Path]:
    """A tiny base Llava, a seed instruct dataset and a TextVQA-style validation folder under ``root``."""
    from dataset_builders.tiny.models import save_tiny_llava
    from training.data.synthetic import COLOURS, colour_image, write_instruct

    paths = {"base": root / "base", "seed": root / "seed", "val": root / "val"}
    if (root / _DONE).is_file():
        return paths
    root.mkdir(parents=True, exist_ok=True)
    save_tiny_llava(paths["base"], seed=seed)
    write_instruct(paths["seed"], n=8, seed=seed)
    (paths["val"] / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, name in enumerate(list(COLOURS)[:4]):
        colour_image(name).save(paths["val"] / "images" / f"{i}.jpg")
        rows.append({"question_id": f"v{i}", "question": "この画像は何色ですか？", "image": f"images/{i}.jpg",
                     "answers": [name] * 10, "ocr_tokens": []})
    atomic_write_text(paths["val"] / "val.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    atomic_write_text(root / _DONE, "tiny evolve inputs\n")
    return paths


def _agents(cfg: EvolveConfig) -> dict[str, object]:
    return {name: getattr(cfg, name) for name in ("proposer", "refiner", "annotator") if getattr(cfg, name) is not None}


def uses_stand_ins(cfg: EvolveConfig) -> bool:
    return (TINY in (cfg.base_model, cfg.seed_dataset, cfg.eval.data)
            or any(a.base_url == SCRIPTED for a in _agents(cfg).values()))


@contextlib.contextmanager
def stand_ins(cfg: EvolveConfig, out_dir: Path) -> Iterator[EvolveConfig]:
    """``cfg`` with every ``tiny`` input written and every ``scripted`` agent served (see the module doc)."""
    if not uses_stand_ins(cfg):
        yield cfg
        return
    changes: dict[str, object] = {}
    if TINY in (cfg.base_model, cfg.seed_dataset, cfg.eval.data):
        paths = write_tiny_inputs(Path(out_dir) / INPUTS_DIR, cfg.seed)
        if cfg.base_model == TINY:
            changes["base_model"] = str(paths["base"])
        if cfg.seed_dataset == TINY:
            changes["seed_dataset"] = str(paths["seed"])
        if cfg.eval.data == TINY:
            changes["eval"] = dataclasses.replace(cfg.eval, data=str(paths["val"]))
    scripted = [name for name, agent in _agents(cfg).items() if agent.base_url == SCRIPTED]
    with contextlib.ExitStack() as stack:
        if scripted:
            from ja_vila.servers.evolve_server import EvolveScriptedServer

            server = stack.enter_context(EvolveScriptedServer())
            logger.info("evolve: %s answered by a scripted loopback server (%s), not a model",
                        ", ".join(scripted), server.url)
            for name in scripted:
                changes[name] = dataclasses.replace(getattr(cfg, name), base_url=server.url)
        yield dataclasses.replace(cfg, **changes)
