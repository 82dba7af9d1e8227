"""Training data: WebDataset shards → rendered token rows (+ image bytes) → packed rows → batches.

- :mod:`training.data.shards`  — stream samples from local or ``hf://`` shards (nothing materialised);
- :mod:`training.data.render`  — a sample of any of the three schemas → input ids and labels;
- :mod:`training.data.packing` — several rendered samples per row, ``position_ids`` restarting;
- :mod:`training.data.mixture` — weighted mixture of sources as a ``torch`` ``IterableDataset``;
- :mod:`training.data.position` — where the stream stands (saved with checkpoints, restored on resume);
- :mod:`training.data.collator` — images decoded per micro-batch, padding, a vision pass on every rank.
"""

from training.data.collator import VilaCollator
from training.data.mixture import DataSource, VilaStream
from training.data.render import Renderer

__all__ = ["DataSource", "Renderer", "VilaCollator", "VilaStream"]
