"""The stage folder: exactly the files a release uploads, and nothing else.

Files are hard-linked from the source folder (copied when the stage is on another file system), so
staging a terabyte of shards costs nothing and the source stays untouched; generated files (the
card) are written atomically. Re-staging into the same folder is incremental: unchanged files are
kept, files of an earlier stage that are no longer part of the release are removed, and anything
else found there stops the release (``upload_folder`` would upload it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataset_builders.atomic import atomic_write_text, tmp_path_for
from model_cards.release.plan import ReleaseError, StagedFile

logger = logging.getLogger(__name__)

#: What ``upload_folder`` itself skips (``huggingface_hub.hf_api.DEFAULT_IGNORE_PATTERNS``).
_HUB_OWN = (".git", ".cache")
#: Files up to this size are searched for the token before anything is uploaded.
SECRET_SCAN_MAX_BYTES = 64 * 1024**2


def default_stage_dir(folder: Path) -> Path:
    """``NAME.release`` beside the folder: same file system (hard links), stable across re-runs."""
    return folder.parent / f"{folder.name}.release"


def _check_separate(stage_dir: Path, source: Path) -> None:
    stage, src = stage_dir.resolve(), source.resolve()
    if stage == src or src in stage.parents or stage in src.parents:
        raise ReleaseError(f"--stage {stage_dir}: the stage folder must be outside {source} and not contain it; "
                           f"use e.g. {default_stage_dir(source)}")


def _existing(stage_dir: Path) -> list[str]:
    out = []
    for path in stage_dir.rglob("*"):
        rel = path.relative_to(stage_dir)
        if rel.parts[0] in _HUB_OWN or not (path.is_file() or path.is_symlink()):
            continue
        out.append(rel.as_posix())
    return sorted(out)


def _same(src: Path, dst: Path) -> bool:
    if not dst.is_file() or dst.is_symlink():
        return False
    with contextlib.suppress(OSError):
        if os.path.samefile(src, dst):
            return True
    a, b = src.stat(), dst.stat()
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(dst)
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)  # another file system: copy, keeping the mtime
    os.replace(tmp, dst)


def stage_folder(
    stage_dir: Path,
    source: Path,
    files: dict[str, Path],
    generated: dict[str, str],
    managed: Callable[[str], bool],
) -> list[StagedFile]:
    """Make ``stage_dir`` hold exactly ``files`` (relative path → source file) and ``generated`` texts.

    ``managed`` says which paths an earlier stage of the same kind may have left (they are removed
    when no longer wanted); any other file there is an error.
    """
    _check_separate(stage_dir, source)
    stage_dir.mkdir(parents=True, exist_ok=True)
    wanted = set(files) | set(generated)
    stale = [rel for rel in _existing(stage_dir) if rel not in wanted]
    foreign = [rel for rel in stale if not managed(rel)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" (+{len(foreign) - 5} more)" if len(foreign) > 5 else "")
        raise ReleaseError(f"--stage {stage_dir} holds files that are not part of this release ({shown}); "
                           "they would be uploaded too: pass an empty folder (or remove them)")
    for rel in stale:
        (stage_dir / rel).unlink()
        logger.info("stage: removed %s (no longer part of the release)", rel)
    for rel, src in sorted(files.items()):
        dst = stage_dir / rel
        if not _same(src, dst):
            _link_or_copy(src, dst)
    for rel, text in sorted(generated.items()):
        dst = stage_dir / rel
        if not dst.is_file() or dst.read_text(encoding="utf-8") != text:
            atomic_write_text(dst, text)
    for d in sorted((p for p in stage_dir.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if d.relative_to(stage_dir).parts[0] not in _HUB_OWN and not any(d.iterdir()):
            d.rmdir()
    staged = [StagedFile(rel, (stage_dir / rel).stat().st_size) for rel in sorted(wanted)]
    logger.info("staged %d files (%d bytes) in %s", len(staged), sum(f.size for f in staged), stage_dir)
    return staged


def check_no_secret(stage_dir: Path, files: list[StagedFile], secret: str | None) -> None:
    """Refuse to upload a stage where the token appears in a file (cards, configs, stats).

    Files above :data:`SECRET_SCAN_MAX_BYTES` (shards, weights) are binary outputs of the builders
    and trainers, which never see the token; scanning terabytes would cost more than it protects.
    """
    if not secret or len(secret) < 8:
        return
    needle = secret.encode("utf-8")
    for f in files:
        if f.size <= SECRET_SCAN_MAX_BYTES and needle in (stage_dir / f.path).read_bytes():
            raise ReleaseError(f"{stage_dir / f.path} contains your Hugging Face token; remove it from the source "
                               "(card text, config, stats) and release again. Nothing was uploaded.")


# -- local paths --------------------------------------------------------------------------------
#: Config keys transformers fills with the folder a model was loaded from.
PATH_KEYS = ("_name_or_path", "name_or_path")


def _looks_local(key: str, value: str) -> bool:
    if not value:
        return False
    if os.path.isabs(value) or value.startswith("~") or re.match(r"^[A-Za-z]:[\\/]", value):
        return True
    # a relative path under a path key (a Hub id ORG/NAME that is not a folder here is kept)
    return key in PATH_KEYS and (value.startswith(".") or Path(value).exists())


def scrub_local_paths(value: Any, key: str = "") -> tuple[Any, list[str]]:
    """``value`` (parsed JSON) with local file paths blanked, and the paths removed.

    transformers writes the folder a model was assembled from into ``config.json``
    (``text_config._name_or_path`` …): publishing it would leak the user's directory layout and is
    of no use to anyone loading the model from the Hub.
    """
    if isinstance(value, dict):
        out, removed = {}, []
        for k, v in value.items():
            out[k], r = scrub_local_paths(v, k)
            removed += r
        return out, removed
    if isinstance(value, list):
        pairs = [scrub_local_paths(v, key) for v in value]
        return [v for v, _ in pairs], [p for _, r in pairs for p in r]
    if isinstance(value, str) and _looks_local(key, value):
        return "", [value]
    return value, []


def scrubbed_json_files(files: dict[str, Path]) -> dict[str, str]:
    """The ``*.json`` files of ``files`` that carry local paths, as scrubbed texts (stage them instead)."""
    out = {}
    for rel, path in files.items():
        if not rel.endswith(".json") or path.stat().st_size > SECRET_SCAN_MAX_BYTES:
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        clean, removed = scrub_local_paths(data)
        if removed:
            logger.info("%s: %d local path(s) blanked before release (%s)", rel, len(removed),
                        ", ".join(sorted({Path(p).name for p in removed})))
            out[rel] = json.dumps(clean, indent=2, ensure_ascii=False) + "\n"
    return out


def local_roots(*folders: Path) -> list[str]:
    """Absolute paths that must not appear in a release: the source folder, its parent, home, cwd
    (paths too short to be specific, such as ``/tmp`` or ``/``, are left out)."""
    roots = set()
    for folder in folders:
        folder = folder.resolve()
        roots.update({folder, folder.parent})
    roots.update({Path.home(), Path.cwd()})
    return sorted({str(r) for r in roots if len(r.parts) >= 3}, key=len, reverse=True)


def check_no_local_paths(stage_dir: Path, files: list[StagedFile], roots: list[str]) -> None:
    """Refuse a stage where a file (card, config, stats, shard) names a local folder of this machine."""
    patterns = [re.compile(rb"(?<![\w.\-/:%])" + re.escape(r.encode("utf-8")) + rb"(?=[/\\\"'\s)]|$)")
                for r in roots]
    for f in files:
        if f.size > SECRET_SCAN_MAX_BYTES:
            continue
        data = (stage_dir / f.path).read_bytes()
        for root, pattern in zip(roots, patterns, strict=True):
            if pattern.search(data):
                raise ReleaseError(f"{stage_dir / f.path} names the local folder {root}; remove it from the source "
                                   "(card text, config, stats) and release again. Nothing was uploaded.")
