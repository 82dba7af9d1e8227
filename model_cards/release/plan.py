"""What a release does: the staged files and the Hub calls, printable before anything is sent.

``--dry-run`` prints exactly the calls a real run makes: the push executes ``plan.calls`` as they
are, so the two cannot drift apart. A plan never holds the token (the client gets it separately).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ID_HELP = "a Hub repo id is ORG/NAME (letters, digits, '-', '_', '.'), e.g. llm-jp/ja-pairs"


class ReleaseError(ValueError):
    """A release cannot go on; the message names the input and the fix (never a secret)."""


@dataclass(frozen=True)
class StagedFile:
    path: str  # relative to the stage folder, '/'-separated
    size: int


@dataclass(frozen=True)
class HubCall:
    """One ``huggingface_hub.HfApi`` method call: its name and keyword arguments."""

    method: str
    kwargs: dict[str, Any]

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.method}({args})"


@dataclass
class ReleasePlan:
    """A staged release: where the folder is, what is in it, and what will be sent to the Hub."""

    kind: str  # "dataset" or "model"
    repo_id: str
    private: bool
    stage_dir: Path
    files: list[StagedFile]
    calls: list[HubCall]
    dry_run: bool
    verified: dict[str, Any] = field(default_factory=dict)
    pushed: bool = False
    results: list[Any] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def url(self) -> str:
        prefix = "datasets/" if self.kind == "dataset" else ""
        return f"https://huggingface.co/{prefix}{self.repo_id}"

    def describe(self) -> str:
        """The plan as text: the calls, then every staged file with its size."""
        head = "would run" if self.dry_run and not self.pushed else "ran" if self.pushed else "will run"
        lines = [f"{self.kind} release → {self.url} ({'private' if self.private else 'public'})",
                 f"verified: {', '.join(f'{k}={v}' for k, v in self.verified.items()) or 'no'}",
                 f"{head}:"]
        lines += [f"  {call}" for call in self.calls]
        lines.append(f"staged folder {self.stage_dir} ({len(self.files)} files, {_size(self.total_bytes)}):")
        lines += [f"  {f.path}  {_size(f.size)}" for f in self.files]
        return "\n".join(lines)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def check_repo_id(repo_id: str) -> str:
    """``ORG/NAME`` or a :class:`ReleaseError` that says what a repo id looks like."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}", repo_id or "") or ".." in repo_id:
        raise ReleaseError(f"--repo {repo_id!r}: {REPO_ID_HELP}")
    return repo_id
