"""``ja-vila evolve``: evolutionary construction of VL fine-tuning data (task evolution, QA
evolution, multi-agent task design), resumable generation by generation. See README.md here.

One concept per file: ``config`` (settings), ``schemas`` (agent answers), ``prompts``, ``agents``
(backends + shared budget), ``images`` (training images), ``failures`` (train, evaluate, wrong
answers), ``diversity`` (archive guard), ``verify`` (annotation checks), ``tasks`` (task evolution),
``qa`` (QA evolution), ``dataset_io`` (shards + card with lineage), ``plot`` (PNG), ``run`` (loop).
"""

from ja_vila.evolve.config import EvolveConfig
from ja_vila.evolve.dataset_io import EVOLVE_SCHEMA
from ja_vila.evolve.diversity import TaskArchive, diversity, similarity
from ja_vila.evolve.run import Evolution, is_complete, run_evolve
from ja_vila.evolve.verify import ocr_consistent, self_consistency, unverifiable_keyword

__all__ = ["EVOLVE_SCHEMA", "Evolution", "EvolveConfig", "TaskArchive", "diversity", "is_complete",
           "ocr_consistent", "run_evolve", "self_consistency", "similarity", "unverifiable_keyword"]
