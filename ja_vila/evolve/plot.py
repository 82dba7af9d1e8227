"""``evolution.png``: the validation score and the task diversity of every generation, as a matplotlib
figure (labelled axes, integer generation ticks, a legend and a title) a reader can open anywhere.

The figure is built with matplotlib's object API (no pyplot state), so it is safe in any thread and
testable before it is saved: :func:`evolution_figure` returns it, :func:`write_plot` writes the PNG.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dataset_builders.atomic import atomic_write_bytes

#: Inches × dots per inch: the PNG is 800 × 480 pixels.
FIGSIZE, DPI = (8.0, 4.8), 100
SCORE_LABEL = "validation score (VQA accuracy)"
DIVERSITY_LABEL = "diversity (1 − mean pairwise similarity)"


def evolution_figure(generations: Sequence[int], score: Sequence[float], diversity: Sequence[float],
                     title: str = "ja-vila evolve: score and diversity per generation") -> Figure:
    """Score (left axis) and diversity (right axis) per generation, both in [0, 1]."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel("generation")
    ax.set_ylabel(SCORE_LABEL, color="tab:blue")
    (line_score,) = ax.plot(list(generations), list(score), marker="o", color="tab:blue", label="score")
    right = ax.twinx()
    right.set_ylabel(DIVERSITY_LABEL, color="tab:orange")
    (line_div,) = right.plot(list(generations), list(diversity), marker="s", linestyle="--", color="tab:orange",
                             label="diversity")
    for axis in (ax, right):
        axis.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(generations) == 1:  # one point: a readable x range around it
        ax.set_xlim(generations[0] - 1, generations[0] + 1)
    ax.grid(True, alpha=0.3)
    fig.legend(handles=[line_score, line_div], loc="outside lower center", ncols=2)
    for x, y in zip(generations, score, strict=True):
        ax.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8,
                    color="tab:blue")
    return fig


def write_plot(path: Path, generations: Sequence[int], score: Sequence[float], diversity: Sequence[float]) -> str:
    """Write ``evolution.png`` (atomically); returns the backend used."""
    buf = io.BytesIO()
    evolution_figure(generations, score, diversity).savefig(buf, format="png", dpi=DPI)
    atomic_write_bytes(path, buf.getvalue())
    return "matplotlib"
