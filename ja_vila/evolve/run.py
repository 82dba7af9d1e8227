"""The evolution loop, resumable generation by generation.

Generation g is built in ``out/gen_XX.partial/`` and renamed to ``out/gen_XX/`` only after its
completion marker (``COMPLETE.json``) is written, so a killed run leaves either a finished
generation or a partial folder that the next run deletes and redoes (LLM answers come back from the
cache). A re-run skips finished generations. A generation that produced no sample (the LLM
unreachable, every answer rejected) is not complete: the run stops with status
``generation_empty`` and the next run redoes it. Each generation:

1. fine-tunes the base model on D = seed dataset + every earlier generation's dataset (``model/``);
2. evaluates it on the validation split (VQA accuracy) and keeps the failures (``failures.jsonl``);
3. task / multi_agent mode: proposes N tasks from a sample of failures, screened by the diversity
   guard (``tasks.json``), and annotates every training image for each, verified; qa mode:
   captions → QA pairs → easier / harder variants (``qa.jsonl``);
4. writes its dataset (``dataset/``: shards + card), ``metrics.json``; the run folder gets
   ``metrics.json`` (all generations) and ``evolution.png`` (score and diversity per generation).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset_builders.atomic import atomic_write_json, atomic_write_text
from ja_vila.evolve.agents import Agent, BudgetExhausted, make_budget
from ja_vila.evolve.config import EvolveConfig
from ja_vila.evolve.dataset_io import write_generation_dataset
from ja_vila.evolve.diversity import TaskArchive, char_ngram_cosine, diversity
from ja_vila.evolve.failures import evaluate_failures, train_generation, write_failures
from ja_vila.evolve.images import load_train_images
from ja_vila.evolve.plot import write_plot
from ja_vila.evolve.prompts import SYSTEM_ANNOTATOR, SYSTEM_PROPOSER
from ja_vila.evolve.qa import evolve_qa, read_questions
from ja_vila.evolve.schemas import ProposedTask
from ja_vila.evolve.tasks import annotate_tasks, propose_tasks
from ja_vila.evolve.tiny import stand_ins

logger = logging.getLogger(__name__)

MARKER = "COMPLETE.json"


class GenerationEmpty(RuntimeError):
    """A generation produced no sample: it is not marked complete, so the next run redoes it."""


def generation_dir(out_dir: Path, g: int) -> Path:
    return out_dir / f"gen_{g:02d}"


def is_complete(out_dir: Path, g: int) -> bool:
    return (generation_dir(out_dir, g) / MARKER).is_file()


def _qa_diversity(questions: list[dict[str, Any]], limit: int = 60) -> float:
    texts = [q["question"] for q in questions[:limit]]
    pairs = [(a, b) for i, a in enumerate(texts) for b in texts[i + 1:]]
    return 1.0 - sum(char_ngram_cosine(a, b) for a, b in pairs) / len(pairs) if pairs else 1.0


class Evolution:
    """One run of ``ja-vila evolve`` over ``out_dir`` (see the module docstring)."""

    def __init__(self, cfg: EvolveConfig, out_dir: str | os.PathLike):
        cfg.check_inputs()
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        cache = Path(cfg.cache_dir)
        self.cache_dir = cache if cache.is_absolute() else self.out_dir / cache
        self.budget = make_budget(cfg.budget.max_requests, cfg.budget.max_total_tokens)
        self.proposer = Agent("proposer", cfg.proposer, self.cache_dir, self.budget, SYSTEM_PROPOSER)
        self.refiner = (Agent("refiner", cfg.refiner, self.cache_dir, self.budget, SYSTEM_PROPOSER)
                        if cfg.refiner is not None else None)
        self.annotator = Agent("annotator", cfg.annotator_config, self.cache_dir, self.budget, SYSTEM_ANNOTATOR)
        self.archive = TaskArchive(cfg.diversity.method, cfg.diversity.threshold)
        self._images = None

    @property
    def images(self):
        if self._images is None:
            self._images = load_train_images(self.cfg.seed_dataset, self.cfg.images, self.cfg.max_images)
        return self._images

    # -- the loop -------------------------------------------------------------------------------
    def run(self, on_generation_done: Callable[[int], None] | None = None) -> dict[str, Any]:
        history: list[dict[str, Any]] = []
        status, error = "complete", None
        for g in range(1, self.cfg.generations + 1):
            final = generation_dir(self.out_dir, g)
            if (final / MARKER).is_file():
                summary = json.loads((final / MARKER).read_text(encoding="utf-8"))
                self._restore_archive(final)
                history.append(summary)
                logger.info("generation %d already complete; skipped", g)
                continue
            if self.budget.exhausted:
                status = "budget_exhausted"
                break
            try:
                summary = self._generation(g)
            except BudgetExhausted as e:
                logger.warning("generation %d stopped: %s; finished generations are kept. Raise budget.* and "
                               "re-run to continue (answers so far come from the cache).", g, e)
                status = "budget_exhausted"
                break
            except GenerationEmpty as e:
                logger.error("%s", e)
                status, error = "generation_empty", str(e)
                break
            history.append(summary)
            self._write_run_files(history, status="running")
            if on_generation_done is not None:
                on_generation_done(g)
        result = self._write_run_files(history, status, error)
        return result

    def _restore_archive(self, gdir: Path) -> None:
        tasks_file = gdir / "tasks.json"
        if tasks_file.is_file():
            data = json.loads(tasks_file.read_text(encoding="utf-8"))
            self.archive.add([ProposedTask(name=t["name"], instruction=t["instruction"]) for t in data["accepted"]])

    def _datasets(self, g: int) -> list[str]:
        paths = [self.cfg.seed_dataset]
        for j in range(1, g):
            ds = generation_dir(self.out_dir, j) / "dataset"
            if any((ds / "data").glob("*.tar")):
                paths.append(str(ds))
        return paths

    def _generation(self, g: int) -> dict[str, Any]:
        cfg = self.cfg
        final = generation_dir(self.out_dir, g)
        work = final.with_name(final.name + ".partial")
        if work.exists():
            logger.info("generation %d: removing the partial folder of a killed run", g)
            shutil.rmtree(work)
        work.mkdir(parents=True)
        t0 = time.monotonic()
        datasets = self._datasets(g)
        logger.info("generation %d: fine-tuning %s on %d dataset(s)", g, cfg.base_model, len(datasets))
        training = train_generation(cfg.base_model, datasets, work / "model", cfg.train, cfg.seed)
        score, failures, n_items = evaluate_failures(work / "model", cfg.eval)
        write_failures(work / "failures.jsonl", failures)
        logger.info("generation %d: VQA accuracy %.4f, %d failures of %d", g, score, len(failures), n_items)
        usage_before = self.budget.requests
        if cfg.mode in ("task", "multi_agent"):
            tasks, proposal_log = propose_tasks(cfg, g, failures, self.archive, self.proposer, self.refiner)
            samples, counts = annotate_tasks(cfg, g, tasks, self.images, self.annotator)
            accepted = [t.task for t in tasks]
            gen_diversity = diversity(accepted, cfg.diversity.method)
            archive_after = TaskArchive(self.archive.method, self.archive.threshold, [*self.archive.tasks, *accepted])
            atomic_write_json(work / "tasks.json", {"accepted": [t.to_dict() for t in tasks], **proposal_log})
            extra = {"tasks": len(tasks), "rejected": len(proposal_log["rejected"]),
                     "unverifiable": sum(1 for t in tasks if t.unverifiable),
                     "archive_diversity": diversity(archive_after.tasks, cfg.diversity.method)}
        else:
            previous = read_questions(generation_dir(self.out_dir, g - 1) / "qa.jsonl") if g > 1 else []
            samples, questions, counts = evolve_qa(cfg, g, self.images, self.annotator, previous)
            atomic_write_text(work / "qa.jsonl",
                              "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions))
            gen_diversity = _qa_diversity(questions)
            accepted, extra = [], {"questions": len(questions)}
        if not samples:
            raise GenerationEmpty(self._empty_message(g, counts))
        stats = write_generation_dataset(work / "dataset", samples, g, cfg.mode, cfg.shard_max_samples,
                                         extra_stats={"generation": g, "verification": dict(sorted(counts.items()))})
        summary = {
            "generation": g, "mode": cfg.mode, "score": score, "validation_items": n_items,
            "failures": len(failures), "diversity": gen_diversity, "samples": stats["samples"],
            "train_datasets": len(datasets), "verification": dict(sorted(counts.items())),
            "llm_requests": self.budget.requests - usage_before, "training": training,
            "seconds": round(time.monotonic() - t0, 2), **extra,
        }
        atomic_write_json(work / "metrics.json", summary)
        atomic_write_json(work / MARKER, summary)
        os.replace(work, final)
        self.archive.add(accepted)
        logger.info("generation %d complete: %d samples, diversity %.3f", g, stats["samples"], gen_diversity)
        return summary

    def _empty_message(self, g: int, counts: dict[str, int]) -> str:
        agents = [a for a in (self.proposer, self.refiner, self.annotator) if a is not None]
        llm = "; ".join(f"{a.role} ({a.config.base_url or a.config.provider}): {a.usage['ok']} ok, "
                        f"{a.usage['failed']} failed"
                        + (f" ({', '.join(f'{k} {v}' for k, v in sorted(a.failures.items()))})" if a.failures else "")
                        for a in agents)
        checks = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "nothing to verify"
        return (f"generation {g} produced no sample, so it is not marked complete (LLM calls: {llm}; "
                f"verification: {checks}). Check that the LLM endpoints answer, then re-run the same command: "
                f"finished generations are kept and generation {g} is redone.")

    def _write_run_files(self, history: list[dict[str, Any]], status: str, error: str | None = None) -> dict[str, Any]:
        result = {
            "status": status, "mode": self.cfg.mode, "generations_done": len(history),
            "generations": [{k: h.get(k) for k in ("generation", "score", "diversity", "samples", "failures",
                                                    "tasks", "rejected", "llm_requests")} for h in history],
            "llm_usage": {a.role: a.usage for a in (self.proposer, self.refiner, self.annotator) if a is not None},
            "budget": {"requests": self.budget.requests, "max_requests": self.budget.max_requests,
                       "tokens": self.budget.tokens, "max_total_tokens": self.budget.max_total_tokens},
        }
        if error is not None:
            result["error"] = error
        if history:
            result["plot_backend"] = write_plot(self.out_dir / "evolution.png", [h["generation"] for h in history],
                                                [h["score"] for h in history], [h["diversity"] for h in history])
        atomic_write_json(self.out_dir / "metrics.json", result)
        return result


def run_evolve(cfg: EvolveConfig, out_dir: str | os.PathLike,
               on_generation_done: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) the evolution described by ``cfg`` into ``out_dir``; returns the run metrics.

    ``tiny`` inputs and ``scripted`` agents (the tiny preset) are written / served for the run
    (:mod:`ja_vila.evolve.tiny`)."""
    with stand_ins(cfg, Path(out_dir)) as resolved:
        return Evolution(resolved, out_dir).run(on_generation_done)
