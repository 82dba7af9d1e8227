"""Padding efficiency of the training batches: real tokens / tokens in the batch tensors, with and
without packing (and padding-free), on the demo's ja-instruct and ja-interleaved datasets.

Real tokens are the rows' own tokens (image tokens included); batch tokens are the ``input_ids``
elements the collator builds (padding included). Eight passes over each dataset (the rows the
stream hands out while reading them: steady state, not one pass's half-empty last rows) with the
tiny model (4 tokens per image) and the tiny presets' ``max_length`` (512 for instruct, 1024 for
interleaved), 4 rows per micro-batch. The baseline is unpacked, right-padded batches. The counts are exact (no
timing), so each comparison is one round. Uses ``demo-out/datasets``
when ``make demo`` has run, else builds the demo's datasets in a temporary folder
(``python -m bench.run padding``).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from bench.common import report
from dataset_builders.tiny.models import tiny_llava
from training.data import DataSource, Renderer, VilaStream
from training.train import build_collator

BATCH = 4
PASSES = 8
DEMO_DATASETS = Path("demo-out/datasets")
MAX_LENGTH = {"ja-instruct": 512, "ja-interleaved": 1024}


def demo_datasets(root: Path) -> Path:
    """The demo's datasets (built like ``ja-vila demo`` does, offline) under ``root``."""
    from ja_vila import demo
    from ja_vila.servers.image_server import ImageServer
    from ja_vila.servers.openai_server import ScriptedOpenAIServer

    with ImageServer(port=demo._free_port()) as images, ScriptedOpenAIServer() as llm:
        ctx = demo.DemoContext(out=root, seed=0, image_base_url=images.base_url, judge_url=llm.url)
        for stage in (demo.stage_crawl, demo.stage_interleaved, demo.stage_instruct):
            stage(ctx)
    return root / "datasets"


def efficiency(data: Path, max_length: int, packing: bool, padding_free: bool) -> tuple[int, int, int]:
    """``(real tokens, batch tokens, rows)`` of the rows handed out while reading ``PASSES`` passes of ``data``."""
    model, processor = tiny_llava(seed=0)
    source = DataSource(str(data), name="data")
    stream = VilaStream([source], Renderer(processor.tokenizer, model.config.image_seq_length, max_length),
                        packing=packing, repeat=True, pack_buffer=16)
    collate = build_collator(model, processor, padding_free=padding_free)
    rows = []
    for row in stream:
        if stream.stats["passes/data"] >= PASSES:
            break
        rows.append(row)
    real = batch_tokens = 0
    for i in range(0, len(rows), BATCH):
        chunk = rows[i : i + BATCH]
        real += sum(len(r["input_ids"]) for r in chunk)
        batch_tokens += collate(chunk)["input_ids"].numel()
    return real, batch_tokens, len(rows)


def main() -> list[dict]:
    logging.getLogger("dataset_builders").setLevel(logging.WARNING)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        datasets = DEMO_DATASETS if (DEMO_DATASETS / "ja-interleaved").is_dir() else demo_datasets(Path(tmp))
        for name, max_length in MAX_LENGTH.items():
            real_u, total_u, rows_u = efficiency(datasets / name, max_length, packing=False, padding_free=False)
            for label, packing, free in (("packed", True, False), ("padding_free", False, True)):
                real, total, rows = efficiency(datasets / name, max_length, packing=packing, padding_free=free)
                out.append(report(f"padding_efficiency_{name}_{label}", [real / total], [real_u / total_u],
                                  "real/batch tokens", "unpacked padded batches", real_tokens=real,
                                  batch_tokens=total, rows=rows, baseline_batch_tokens=total_u,
                                  baseline_rows=rows_u))
    return out


if __name__ == "__main__":
    main()
