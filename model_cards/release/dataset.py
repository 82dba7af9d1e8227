"""``ja-vila release dataset``: a finished dataset folder → a Hub dataset repo.

The release decides what the build could not: the repo id, the licence (a Hub id, or ``other`` with
a name and a link) and the contact for removal requests, all written into the card's metadata and
text; for web data the crawl dates come from the samples' ``warc_date`` when the build recorded it.

Uploaded: ``README.md`` (the card, rendered again for the repo id), ``stats.json`` and
``data/*.tar``. Never uploaded: ``llm_cache/`` (LLM answers keyed by request), ``stats/`` (per-task
counts, merged into stats.json), ``*.work`` folders, ``*.tmp`` files, logs or anything else.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset_builders.shard_writer import DATA_DIR
from model_cards.release.hub import HubFactory, hub_calls, push, resolve_token
from model_cards.release.plan import ReleaseError, ReleasePlan, check_repo_id
from model_cards.release.staging import (
    check_no_local_paths,
    check_no_secret,
    default_stage_dir,
    local_roots,
    stage_folder,
)

logger = logging.getLogger(__name__)

#: Up to this many shard bytes the staged folder is fully loaded (every row decoded into a private
#: cache); above it, the first rows are streamed (a full load would copy the whole dataset).
FULL_LOAD_MAX_BYTES = 2 * 1024**3


def _managed(rel: str) -> bool:
    return rel in ("README.md", "stats.json") or (rel.startswith(f"{DATA_DIR}/") and rel.endswith(".tar"))


def inspect_dataset_folder(folder: Path) -> tuple[dict[str, Any], Any, list[Path]]:
    """``stats.json``, the parsed card and the shards of a finished folder, or an error saying why not."""
    from huggingface_hub import DatasetCard

    if not folder.is_dir():
        raise ReleaseError(f"{folder}: no such folder (give a dataset folder written by `ja-vila build`)")
    for name in ("stats.json", "README.md"):
        if not (folder / name).is_file():
            raise ReleaseError(f"{folder}: no {name}; it is not a finished dataset folder (a build writes it at "
                               "the end: re-run the same `ja-vila build` command to finish)")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    if int(stats.get("samples", -1)) == 0:
        raise ReleaseError(f"{folder}: the dataset is empty (its build kept 0 samples; the funnel in its README.md "
                           "shows where every input was dropped); check the input and the thresholds, rebuild, then release")
    data = folder / DATA_DIR
    partial = sorted(p.name for p in data.glob("*.tmp")) if data.is_dir() else []
    if partial:
        raise ReleaseError(f"{data}: {', '.join(partial[:3])} are shards still being written (or left by a killed "
                           "build); re-run the same `ja-vila build` command to finish it, then release")
    shards = sorted(data.glob("*.tar")) if data.is_dir() else []
    if not shards or len(shards) != int(stats.get("shards", -1)):
        raise ReleaseError(f"{folder}: stats.json lists {stats.get('shards')} shard(s) but {data} holds {len(shards)}; "
                           "the folder changed after its build finished: rebuild it")
    others = sorted(p.name for p in data.iterdir() if p.suffix != ".tar")
    if others:
        logger.warning("%s: not released (not shards): %s", data, ", ".join(others[:10]))
    try:
        card = DatasetCard.load(folder / "README.md", ignore_metadata_errors=False)
    except Exception as e:  # noqa: BLE001 - any parse error means the same fix
        raise ReleaseError(f"{folder / 'README.md'}: the card does not parse ({e}); re-run the build's finalize step") from e
    return stats, card, shards


def crawl_dates(rows: list[dict[str, Any]]) -> str:
    """``first … last`` day of the samples' ``json.warc_date`` ("" when the build did not record it)."""
    days = sorted({str(d)[:10] for r in rows if isinstance(r.get("json"), dict) for d in [r["json"].get("warc_date")] if d})
    if not days:
        return ""
    return days[0] if len(days) == 1 else f"{days[0]} … {days[-1]} (WARC-Date of the pages' records)"


def verify_dataset(folder: Path, stats: dict[str, Any], full_load_max_bytes: int = FULL_LOAD_MAX_BYTES) -> dict[str, Any]:
    """Load ``folder`` with ``datasets.load_dataset`` (a private, temporary cache) as a user would.

    Small folders are loaded completely and must hold ``stats['samples']`` rows; large ones are
    streamed for their first rows. Every image of the rows read is decoded.
    """
    import datasets

    shard_bytes = sum(p.stat().st_size for p in (folder / DATA_DIR).glob("*.tar"))
    full = shard_bytes <= full_load_max_bytes
    with tempfile.TemporaryDirectory(prefix="ja-vila-release-") as cache:
        try:
            if full:
                ds = datasets.load_dataset(str(folder), split="train", cache_dir=cache)
                rows, n = [ds[i] for i in range(min(len(ds), 8))], len(ds)
                dates = crawl_dates([{"json": j} for j in ds["json"]]) if "json" in ds.column_names else ""
            else:
                ds = datasets.load_dataset(str(folder), split="train", streaming=True, cache_dir=cache)
                rows, n = list(ds.take(8)), None
                dates = ""
            for row in rows:  # decode every image of the rows read
                for value in row.values():
                    if hasattr(value, "load"):
                        value.load()
        except Exception as e:  # noqa: BLE001 - datasets raises many kinds; all mean "does not load"
            raise ReleaseError(f"{folder}: load_dataset failed ({type(e).__name__}: {e}); nothing was uploaded") from e
        columns = list(ds.features) if ds.features else []
    if full and n != int(stats["samples"]):
        raise ReleaseError(f"{folder}: load_dataset reads {n} rows, stats.json says {stats['samples']}; rebuild the folder")
    result = {"load_dataset": "all rows" if full else "streamed first rows", "rows": n if full else len(rows),
              "columns": len(columns), **({"crawl_dates": dates} if dates else {})}
    logger.info("verified %s: %s", folder, result)
    return result


def release_dataset(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    license: str | None = None,  # noqa: A002 - the card field's name
    license_name: str | None = None,
    license_link: str | None = None,
    contact: str | None = None,
    private: bool = False,
    dry_run: bool = False,
    stage_dir: str | os.PathLike | None = None,
    hub_factory: HubFactory | None = None,
    sleep: Callable[[float], None] = time.sleep,
    full_load_max_bytes: int = FULL_LOAD_MAX_BYTES,
) -> ReleasePlan:
    """Verify, stage and (unless ``dry_run``) push the dataset ``folder`` to ``repo_id``.

    ``license`` (a Hub licence id, or ``other`` with ``license_name`` and ``license_link``) and
    ``contact`` (where removal requests go: an e-mail address or a URL) are required: the card
    states both. Returns the plan: the staged folder (``NAME.release`` beside ``folder`` unless
    ``stage_dir``), its files, and the Hub calls made (or, with ``dry_run``, that would be made).
    """
    from model_cards.card_checks import CardError, check_card, check_license_args
    from model_cards.dataset_card import dataset_card_for_repo

    folder = Path(folder)
    check_repo_id(repo_id)
    try:
        check_license_args(license, license_name, license_link)
    except CardError as e:
        raise ReleaseError(str(e)) from e
    if not contact or not contact.strip():
        raise ReleaseError("--contact is required: an e-mail address or URL where people can ask for their content "
                           "to be removed (the card's Removal requests section states it)")
    token = None if dry_run else resolve_token()  # fail before any work when there is none
    stats, card, shards = inspect_dataset_folder(folder)
    terms = {"license": license, "license_name": license_name, "license_link": license_link, "contact": contact.strip()}

    def render(**extra: Any) -> str:
        try:
            release_card = dataset_card_for_repo(card, stats, repo_id, **terms, **extra)
            check_card(release_card, "dataset")
        except (ValueError, KeyError) as e:
            raise ReleaseError(f"{folder}: cannot render the card for {repo_id}: {e}") from e
        return str(release_card)

    stage = Path(stage_dir) if stage_dir else default_stage_dir(folder)
    files = {"stats.json": folder / "stats.json", **{f"{DATA_DIR}/{p.name}": p for p in shards}}
    staged = stage_folder(stage, folder, files, {"README.md": render()}, _managed)
    check_no_secret(stage, staged, token or _saved_token())
    check_no_local_paths(stage, staged, local_roots(folder))
    verified = verify_dataset(stage, stats, full_load_max_bytes)
    if verified.get("crawl_dates"):  # known only once the rows were read: the card says them
        staged = stage_folder(stage, folder, files, {"README.md": render(crawl_dates=verified["crawl_dates"])},
                              _managed)
    name = card.data.to_dict().get("pretty_name") or folder.name
    plan = ReleasePlan(
        kind="dataset", repo_id=repo_id, private=private, stage_dir=stage, files=staged, dry_run=dry_run,
        verified=verified,
        calls=hub_calls("dataset", repo_id, private, stage,
                        f"Release {name}: {stats['samples']} samples in {stats['shards']} shard(s) (ja-vila)",
                        delete_patterns=[f"{DATA_DIR}/*"]),
    )
    if not dry_run:
        push(plan, hub_factory, token, sleep=sleep)
    return plan


def _saved_token() -> str | None:
    """The token a real run would use, to check a dry-run stage does not contain it (none is fine)."""
    from huggingface_hub import get_token

    return get_token()
