"""bunkai's rule-based sentence splitter (the paper's choice), behind the :class:`Splitter` interface.

Importing this module installs the bunkai import fix (see ``bunkai_import``). ``Bunkai()`` runs
Janome over the whole text (≈ 13K characters/s per core), so it is built lazily: a pipeline step
that holds a BunkaiSplitter pickles small and builds Janome once per worker.
"""

from __future__ import annotations

from typing import Any

from dataset_builders.text.bunkai_import import import_bunkai
from dataset_builders.text.splitter import Splitter


class BunkaiSplitter(Splitter):
    """Sentence boundaries from ``bunkai.Bunkai().find_eos`` (newlines always end a sentence)."""

    name = "bunkai"

    def __init__(self) -> None:
        self._bunkai: Any = None

    @property
    def bunkai(self) -> Any:
        if self._bunkai is None:
            self._bunkai = import_bunkai()()
        return self._bunkai

    def boundaries(self, text: str) -> list[int]:
        if not text:
            return []
        n = len(text)
        return sorted({e for e in self.bunkai.find_eos(text) if 0 < e < n})

    def __getstate__(self) -> dict:
        return {"_bunkai": None}
