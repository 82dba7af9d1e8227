"""Task evolution: the proposer designs new tasks from a sample of failures (alone, or with a
refiner and a selection step in multi-agent mode), the diversity guard screens them, and the
annotator writes an instruction and answer per training image for each task, verified."""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ja_vila.evolve import prompts
from ja_vila.evolve.agents import Agent
from ja_vila.evolve.config import EvolveConfig
from ja_vila.evolve.dataset_io import GeneratedSample
from ja_vila.evolve.diversity import TaskArchive
from ja_vila.evolve.failures import Failure
from ja_vila.evolve.images import TrainImage
from ja_vila.evolve.schemas import Annotation, ProposedTask, TaskProposal, TaskSelection
from ja_vila.evolve.verify import ocr_consistent, self_consistency, unverifiable_keyword

logger = logging.getLogger(__name__)


@dataclass
class TaskRecord:
    """An accepted task with its lineage and verification flags (``tasks.json``)."""

    name: str
    instruction: str
    generation: int
    inspired_by: list[str] = field(default_factory=list)
    unverifiable: str | None = None  # the keyword that flagged it

    @property
    def task(self) -> ProposedTask:
        return ProposedTask(name=self.name, instruction=self.instruction)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "instruction": self.instruction, "generation": self.generation,
                "inspired_by": self.inspired_by, "unverifiable": self.unverifiable}


def sample_failures(failures: list[Failure], n: int, seed: int, generation: int) -> list[Failure]:
    rng = random.Random(f"{seed}:{generation}")
    return sorted(rng.sample(failures, min(n, len(failures))), key=lambda f: f.id)


def _proposals(result) -> list[ProposedTask]:
    return list(result.value.tasks) if result.ok else []


def propose_round(cfg: EvolveConfig, generation: int, want: int, shown: list[Failure], archive: TaskArchive,
                  rejected: list[ProposedTask], proposer: Agent, refiner: Agent | None, round_no: int,
                  log: list[dict[str, Any]]) -> list[ProposedTask]:
    """One ask of the proposer (single mode) or one propose → refine → select pass (multi-agent)."""
    if cfg.mode != "multi_agent":
        text = prompts.proposer_prompt(generation, want, shown, archive.tasks, rejected)
        got = _proposals(proposer.ask([proposer.request(text, TaskProposal, f"g{generation}:r{round_no}")])[0])
        log.append({"round": round_no, "agent": "proposer", "proposed": [t.model_dump() for t in got]})
        return got
    m = max(cfg.proposals_multi_agent, want)
    text = prompts.proposer_prompt(generation, m, shown, archive.tasks, rejected)
    drafts = _proposals(proposer.ask([proposer.request(text, TaskProposal, f"g{generation}:r{round_no}:propose")])[0])
    assert refiner is not None
    refined = _proposals(refiner.ask([refiner.request(prompts.refiner_prompt(generation, drafts), TaskProposal,
                                                      f"g{generation}:r{round_no}:refine")])[0]) or drafts
    sel = proposer.ask([proposer.request(prompts.selector_prompt(generation, refined, want), TaskSelection,
                                         f"g{generation}:r{round_no}:select")])[0]
    indices = [i for i in dict.fromkeys(sel.value.selected) if 0 <= i < len(refined)] if sel.ok else []
    chosen = [refined[i] for i in indices][:want]
    log.append({"round": round_no, "agent": "multi_agent", "proposed": [t.model_dump() for t in drafts],
                "refined": [t.model_dump() for t in refined], "selected": indices})
    return chosen


def propose_tasks(cfg: EvolveConfig, generation: int, failures: list[Failure], archive: TaskArchive,
                  proposer: Agent, refiner: Agent | None) -> tuple[list[TaskRecord], dict[str, Any]]:
    """N accepted tasks (fewer if the proposer keeps repeating itself) and the round-by-round log."""
    want = cfg.tasks_per_generation
    shown = sample_failures(failures, cfg.failures_per_prompt, cfg.seed, generation)
    accepted: list[ProposedTask] = []
    rejected: list[dict[str, Any]] = []
    log: list[dict[str, Any]] = []
    rounds = 1 + (cfg.diversity.max_rounds if cfg.diversity.enabled else 0)
    for round_no in range(rounds):
        need = want - len(accepted)
        if need <= 0:
            break
        got = propose_round(cfg, generation, need, shown, archive, [ProposedTask(**r["task"]) for r in rejected],
                            proposer, refiner, round_no, log)
        if not cfg.diversity.enabled:
            accepted += [t for t in got if t.name.strip() and t.instruction.strip()][:need]
            break
        guard = TaskArchive(archive.method, archive.threshold, [*archive.tasks, *accepted])
        for d in guard.screen(got, need):
            if d.accepted:
                accepted.append(d.task)
            else:
                rejected.append({"task": d.task.model_dump(), "closest": d.closest, "similarity": d.similarity,
                                 "round": round_no})
                logger.info("generation %d: rejected task %r (%.2f similar to %r)", generation, d.task.name,
                            d.similarity, d.closest)
    ids = [f.id for f in shown]
    records = [TaskRecord(t.name, t.instruction, generation, ids,
                          unverifiable_keyword(t, cfg.verify.unverifiable_keywords)) for t in accepted]
    if len(records) < want:
        logger.warning("generation %d: only %d of %d tasks accepted", generation, len(records), want)
    return records, {"rounds": log, "rejected": rejected, "failures_shown": ids}


def annotate_tasks(cfg: EvolveConfig, generation: int, tasks: list[TaskRecord], images: list[TrainImage],
                   annotator: Agent) -> tuple[list[GeneratedSample], Counter[str]]:
    """k verified annotations per (task, image); returns the kept samples and drop counts."""
    counts: Counter[str] = Counter()
    todo = []
    for t in tasks:
        if t.unverifiable and not cfg.verify.keep_unverifiable:
            counts["task_unverifiable"] += 1
            continue
        todo += [(t, img) for img in images]
    requests = [annotator.request(prompts.annotator_prompt(t.task), Annotation, f"g{generation}:{t.name}:{img.id}",
                                  images=[img.data]) for t, img in todo]
    runs = [annotator.ask(requests, seed_offset=i) for i in range(cfg.verify.k)]
    samples = []
    for j, (t, img) in enumerate(todo):
        counts["annotated"] += 1
        results = [run[j] for run in runs]
        if not all(r.ok for r in results):
            counts["dropped_annotation_failed"] += 1
            continue
        values: list[Annotation] = [r.value for r in results]  # type: ignore[misc]
        consensus = self_consistency([v.answer for v in values], cfg.verify.min_agreement)
        if consensus.answer_index is None:
            counts["dropped_disagreement"] += 1
            continue
        chosen = values[consensus.answer_index]
        if cfg.verify.ocr_check and not ocr_consistent(chosen.answer, img.ocr_tokens):
            counts["dropped_ocr_mismatch"] += 1
            continue
        if not chosen.instruction.strip() or not chosen.answer.strip():
            counts["dropped_empty"] += 1
            continue
        counts["kept"] += 1
        samples.append(GeneratedSample(img.id, img.data, chosen.instruction.strip(), chosen.answer.strip(),
                                       generation, t.name, list(t.inspired_by), consensus.agreement))
    return samples, counts
