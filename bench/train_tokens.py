"""Step-2 training throughput on CPU (tokens/s): our stream + collator + ``VilaTrainer`` (what
``training/step2.py`` runs), packed and unpacked, vs a stock TRL ``SFTTrainer`` with its default
vision collator — same tiny model, data and settings.

Tokens are the real (non-padding) tokens of every trained batch, image tokens included; time is
``trainer.train()``'s wall time (collation, image decoding and the optimizer included). Each run
makes one pass over the same conversations; the three runs alternate for ``ROUNDS`` rounds
(``python -m bench.run train_tokens``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoProcessor, LlavaForConditionalGeneration
from trl import SFTConfig, SFTTrainer

from bench.common import ROUNDS, report
from dataset_builders.tiny.models import TinyLlavaSpec, save_tiny_llava
from training.chat_template import LLMJP_V3_CHAT_TEMPLATE
from training.data import DataSource, Renderer, VilaStream
from training.data.collator import decode_image
from training.data.shards import expand_shards, iter_samples
from training.data.synthetic import write_instruct
from training.freeze import set_trainable
from training.train import VilaTrainer, build_collator

N_SAMPLES = 24
BATCH = 4
MAX_LENGTH = 512
SPEC = TinyLlavaSpec(image_size=56, patch_size=14, text_hidden=128, vision_hidden=64)  # 16 image tokens


class _Counting:
    """Wrap a collator; count the real tokens of every batch it builds."""

    def __init__(self, collator):
        self.collator = collator
        self.tokens = 0

    def __call__(self, rows):
        batch = self.collator(rows)
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else sum(len(r["input_ids"]) for r in rows)
        return batch


def _args(out: Path, max_steps: int) -> SFTConfig:
    return SFTConfig(
        output_dir=str(out), per_device_train_batch_size=BATCH, max_steps=max_steps, learning_rate=1e-4,
        lr_scheduler_type="constant", max_length=MAX_LENGTH, bf16=False, use_cpu=True, gradient_checkpointing=False,
        report_to="none", save_strategy="no", logging_steps=1000, disable_tqdm=True, remove_unused_columns=False,
        dataloader_num_workers=0, seed=0,
    )


def _model(folder: Path) -> LlavaForConditionalGeneration:
    model = LlavaForConditionalGeneration.from_pretrained(folder)
    set_trainable(model, 2)
    return model


def run_ours(folder: Path, data: Path, packing: bool, work: Path) -> tuple[float, int]:
    model, processor = _model(folder), AutoProcessor.from_pretrained(folder)
    renderer = Renderer(processor.tokenizer, model.config.image_seq_length, MAX_LENGTH)
    stream = VilaStream([DataSource(str(data))], renderer, packing=packing, repeat=False, pack_buffer=16)
    n_rows = sum(1 for _ in stream)
    collator = _Counting(build_collator(model, processor))
    args = _args(work, max_steps=n_rows // BATCH)
    args.accelerator_config.dispatch_batches = False
    trainer = VilaTrainer(model=model, args=args, train_dataset=stream, data_collator=collator)  # what the steps run
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # the Trainer prints its metrics dict
        trainer.train()
    return collator.tokens / (time.perf_counter() - t0), collator.tokens


def run_trl(folder: Path, data: Path, work: Path) -> tuple[float, int]:
    model, processor = _model(folder), AutoProcessor.from_pretrained(folder)
    rows = []
    for sample in iter_samples(expand_shards(data)):
        messages = [{"role": t["role"], "content": t["content"].replace("<image>\n", "")}
                    for t in sample["json"]["conversations"]]
        rows.append({"images": [decode_image(sample["jpg"])], "messages": messages})
    dataset = Dataset.from_list(rows)
    trainer = SFTTrainer(model=model, args=_args(work, max_steps=len(rows) // BATCH), train_dataset=dataset,
                         processing_class=processor)
    trainer.data_collator = _Counting(trainer.data_collator)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.train()
    return trainer.data_collator.tokens / (time.perf_counter() - t0), trainer.data_collator.tokens


def main() -> list[dict]:
    logging.getLogger("transformers").setLevel(logging.ERROR)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = save_tiny_llava(root / "model", seed=0, spec=SPEC)
        processor = AutoProcessor.from_pretrained(folder)
        processor.chat_template = LLMJP_V3_CHAT_TEMPLATE  # TRL renders the messages with it
        processor.save_pretrained(folder)
        data = write_instruct(root / "instruct", n=N_SAMPLES, max_samples=50)
        # interleaved rounds: packed, unpacked, TRL, packed, unpacked, TRL, ... (same machine load)
        runs = {"packed": lambda k: run_ours(folder, data, packing=True, work=root / f"p{k}"),
                "unpacked": lambda k: run_ours(folder, data, packing=False, work=root / f"u{k}"),
                "trl": lambda k: run_trl(folder, data, work=root / f"t{k}")}
        for run in runs.values():
            run("warmup")  # imports, lazy inits, first-step allocations
        rate: dict[str, list[float]] = {name: [] for name in runs}
        tokens: dict[str, int] = {}
        for k in range(ROUNDS):
            for name, run in runs.items():
                r, tokens[name] = run(k)
                rate[name].append(r)
    trl_name = "TRL SFTTrainer + vision collator"
    rows = [
        report("train_tokens_step2_packed", rate["packed"], rate["trl"], "tokens/s", trl_name,
               tokens=tokens["packed"], baseline_tokens=tokens["trl"]),
        report("train_tokens_step2_unpacked", rate["unpacked"], rate["trl"], "tokens/s", trl_name,
               tokens=tokens["unpacked"], baseline_tokens=tokens["trl"]),
        report("train_tokens_step2_packing_gain", rate["packed"], rate["unpacked"], "tokens/s", "ours unpacked"),
    ]
    return rows


if __name__ == "__main__":
    main()
