"""The end-of-step summary: what each data source gave, losses and time — on the console and in
``output_dir/vila_step_summary.json``.

The per-source counts come from the data stream's snapshot at the last trained step (see
:mod:`training.data.position`), so they count exactly the rows that were trained, on all processes
together, including the part before a resume. A source that gave nothing is a WARNING naming its
drop reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

_PER_SOURCE = ("read", "kept", "truncated", "samples", "tokens", "label_tokens", "images", "passes")


def per_source(stats: Mapping[str, int], labels: list[str]) -> dict[str, dict[str, Any]]:
    """``{source: {read, kept, truncated, samples, tokens, label_tokens, images, passes, dropped: {reason: n}}}``
    from the stream's ``"<what>/<source>[/<reason>]"`` counters."""
    out: dict[str, dict[str, Any]] = {}
    for label in labels:
        row: dict[str, Any] = {k: int(stats.get(f"{k}/{label}", 0)) for k in _PER_SOURCE}
        prefix = f"dropped/{label}/"
        row["dropped"] = {k[len(prefix):]: int(n) for k, n in sorted(stats.items()) if k.startswith(prefix)}
        out[label] = row
    return out


def data_summary(stats: Mapping[str, int], labels: list[str], exact: bool) -> dict[str, Any]:
    return {
        "rows": int(stats.get("rows", 0)),
        "row_tokens": int(stats.get("row_tokens", 0)),
        "sources": per_source(stats, labels),
        "exact": exact,
    }


def _drops(dropped: Mapping[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in dropped.items()) or "-"


def log_step_summary(summary: dict[str, Any]) -> None:
    """Log the summary at INFO (one line per source); WARNING for each source that gave nothing."""
    losses = summary.get("losses") or []
    loss = f"loss {losses[0]:.4f} -> {losses[-1]:.4f}" if losses else "no loss logged"
    runtime = summary.get("train_runtime")
    logger.info(
        "step %s %s: %d/%d optimizer steps, %s, %s%s", summary["step"],
        "finished" if summary["finished"] else "stopped", summary["global_step"], summary["max_steps"], loss,
        f"{runtime:.1f} s" if runtime is not None else "time n/a",
        f" (resumed from step {summary['resumed_from']['step']})" if summary.get("resumed_from") else "",
    )
    data = summary["data"]
    logger.info("  %-24s %9s %11s %7s %9s  %s", "source", "samples", "tokens", "images", "truncated",
                "dropped (reason count)")
    for label, row in data["sources"].items():
        logger.info("  %-24s %9d %11d %7d %9d  %s", label, row["samples"], row["tokens"], row["images"],
                    row["truncated"], _drops(row["dropped"]))
    logger.info("  %d rows, %d tokens%s; details in %s/vila_step_summary.json", data["rows"], data["row_tokens"],
                "" if data["exact"] else " (approximate: no snapshot at the last step)", summary["output_dir"])
    for label, row in data["sources"].items():
        if not row["samples"]:
            logger.warning("data source %s contributed nothing to step %s (read %d, dropped: %s)", label,
                           summary["step"], row["read"], _drops(row["dropped"]))
