"""``ja-vila evolve``: evolutionary construction of VL fine-tuning data (task evolution, QA
evolution, multi-agent task design), resumable generation by generation. See README.md here.

One concept per file: ``config`` (settings), ``schemas`` (agent answers), ``prompts``, ``agents``
(backends + shared budget), ``images`` (training images), ``failures`` (train, evaluate, wrong
answers), ``diversity`` (archive guard), ``verify`` (annotation checks), ``tasks`` (task evolution),
``qa`` (QA evolution), ``dataset_io`` (shards + card with lineage), ``plot`` (PNG), ``run`` (loop).
"""

from dataset_builders.evolve.config import EvolveConfig
from dataset_builders.evolve.dataset_io import EVOLVE_SCHEMA
from dataset_builders.evolve.diversity import TaskArchive, diversity, similarity
from dataset_builders.evolve.run import Evolution, is_complete, run_evolve
from dataset_builders.evolve.verify import ocr_consistent, self_consistency, unverifiable_keyword

__all__ = ["EVOLVE_SCHEMA", "Evolution", "EvolveConfig", "TaskArchive", "diversity", "is_complete",
           "ocr_consistent", "run_evolve", "self_consistency", "similarity", "unverifiable_keyword"]
