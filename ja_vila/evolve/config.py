"""Settings of ``ja-vila evolve``: one YAML (``configs/evolve/*.yaml``) read into these dataclasses.

Every agent (proposer, refiner, annotator) is its own OpenAI-compatible backend (an ``llm:``-style
section, :class:`~dataset_builders.llm.config.LLMConfig`); ``budget`` caps the requests of all of
them together for one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dataset_builders.errors import UserInputError, check_local_or_hub
from dataset_builders.llm.config import LLMConfig

MODES = ("task", "qa", "multi_agent")
SIMILARITY_METHODS = ("rouge_l", "char_ngram_cosine")

#: Task types an annotator model cannot be trusted with (the paper: GPT-4o misreads analogue clocks).
DEFAULT_UNVERIFIABLE = ("アナログ時計", "時計の時刻", "時計の針", "analog clock", "analogue clock", "clock time")


@dataclass
class TrainSettings:
    """Step-2 fine-tuning of the base model on D each generation (``training/step2.py``)."""

    config: str = "configs/train/tiny_step2.yaml"
    max_steps: int | None = None  # None: the YAML's
    extra_args: list[str] = field(default_factory=list)  # more SFTConfig / VilaArguments flags


@dataclass
class EvalSettings:
    """Validation split the failures come from (any VQA-accuracy task of ``eval.tasks``)."""

    task: str = "textvqa"
    data: str = ""  # local folder in the task's layout, or a Hub id
    limit: int | None = None
    batch_size: int = 8
    max_new_tokens: int | None = None
    device: str | None = None


@dataclass
class DiversitySettings:
    """The archive guard: a proposed task too close to an accepted one is rejected."""

    enabled: bool = True
    method: str = "rouge_l"
    threshold: float = 0.7  # similarity in [0, 1] at or above which a task is a near-duplicate
    max_rounds: int = 3  # proposer re-asks per generation when tasks were rejected

    def __post_init__(self) -> None:
        if self.method not in SIMILARITY_METHODS:
            raise ValueError(f"diversity.method {self.method!r} is not one of {SIMILARITY_METHODS}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError("diversity.threshold must be in (0, 1]")


@dataclass
class VerifySettings:
    """Annotator verification: self-consistency over k answers, OCR cross-check, unverifiable tasks."""

    k: int = 3
    min_agreement: float = 1.0  # share of the k answers that must agree with the majority answer
    ocr_check: bool = True
    unverifiable_keywords: list[str] = field(default_factory=lambda: list(DEFAULT_UNVERIFIABLE))
    keep_unverifiable: bool = False

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError("verify.k must be at least 1")
        if not 0.0 < self.min_agreement <= 1.0:
            raise ValueError("verify.min_agreement must be in (0, 1]")


@dataclass
class BudgetSettings:
    """All agents together: when spent, the run stops cleanly after the last finished generation."""

    max_requests: int | None = None
    max_total_tokens: int | None = None


@dataclass
class EvolveConfig:
    """One evolution run.

    Attributes:
        mode: ``task`` (task evolution), ``qa`` (QA evolution) or ``multi_agent`` (propose 10,
            refine with a second model, select 5).
        generations: G.
        base_model: Llava folder every generation fine-tunes from.
        seed_dataset: instruct dataset folder D starts from (its images are the training images).
        images: optional TextVQA-style folder (``*.jsonl`` with ``image`` and ``ocr_tokens``) whose
            images are annotated instead of the seed dataset's (OCR tokens enable the cross-check).
        max_images: training images annotated per task (per generation in QA mode).
        tasks_per_generation: N new tasks (10 in the paper); multi-agent mode proposes
            ``proposals_multi_agent`` and keeps N.
        failures_per_prompt: wrong answers shown to the proposer.
        qa_pairs_per_image / qa_evolve_per_image: QA mode sizes.
        cache_dir: LLM answer cache (relative: under the output folder); a re-run reuses it.
    """

    mode: str = "task"
    generations: int = 5
    seed: int = 0
    base_model: str = ""
    seed_dataset: str = ""
    images: str | None = None
    max_images: int = 100
    tasks_per_generation: int = 10
    proposals_multi_agent: int = 10
    failures_per_prompt: int = 20
    qa_pairs_per_image: int = 3
    qa_evolve_per_image: int = 3
    shard_max_samples: int = 1000
    cache_dir: str = "llm_cache"
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    proposer: LLMConfig = field(default_factory=lambda: LLMConfig(model="gpt-4o-2024-08-06"))
    refiner: LLMConfig | None = None
    annotator: LLMConfig | None = None  # None: the proposer's backend
    diversity: DiversitySettings = field(default_factory=DiversitySettings)
    verify: VerifySettings = field(default_factory=VerifySettings)
    budget: BudgetSettings = field(default_factory=BudgetSettings)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode {self.mode!r} is not one of {MODES}")
        if self.generations < 1:
            raise ValueError("generations must be at least 1")
        if self.tasks_per_generation < 1 or self.max_images < 1:
            raise ValueError("tasks_per_generation and max_images must be at least 1")
        if self.mode == "multi_agent" and self.refiner is None:
            raise ValueError("mode multi_agent needs a refiner: section (the second model's backend)")
        if self.mode == "multi_agent" and self.proposals_multi_agent < self.tasks_per_generation:
            raise ValueError("proposals_multi_agent must be >= tasks_per_generation (propose 10, keep 5)")

    def check_inputs(self) -> None:
        """Errors that name the missing input and the key to set."""
        if not self.base_model:
            raise UserInputError("base_model is not set: give a Llava folder (training/step1 output or convert-vila)")
        if not self.seed_dataset:
            raise UserInputError("seed_dataset is not set: give the instruct dataset folder D starts from")
        if not self.eval.data:
            raise UserInputError("eval.data is not set: give the validation split (a local folder or a Hub id)")
        for key, value in (("base_model", self.base_model), ("seed_dataset", self.seed_dataset),
                           ("eval.data", self.eval.data)):
            check_local_or_hub(value, key)

    @property
    def annotator_config(self) -> LLMConfig:
        return self.annotator or self.proposer
