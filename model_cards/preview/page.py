"""The preview page: one view per schema, rendered with an autoescaping Jinja template."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from dataset_builders.atomic import atomic_write_text
from dataset_builders.funnel import Funnel
from model_cards.preview.samples import Sample, iter_samples
from model_cards.preview.thumbnails import thumbnail

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "templates"
IMAGE_PREFIX = "<image>\n"


class PreviewError(ValueError):
    """The folder cannot be previewed; the message says why and what to give instead."""


def safe_url(url: Any) -> str | None:
    """``url`` when it is http(s) (a link target), else None (no ``javascript:`` or ``data:`` links)."""
    if not isinstance(url, str):
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def _number(value: Any) -> str | None:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _pair(s: Sample) -> dict[str, Any]:
    m = s.meta
    scores = {k: _number(v) for k, v in sorted((m.get("clip_scores") or {}).items())}
    return {"key": s.key, "image": thumbnail(s.images.get("jpg", b"")), "text": s.text or "",
            "score": _number(m.get("clip_score")), "scores": {k: v for k, v in scores.items() if v},
            "nsfw": _number(m.get("nsfw")), "source_url": safe_url(m.get("source_url")), "image_url": safe_url(m.get("url"))}


def _document(s: Sample) -> dict[str, Any]:
    """Sentences in order, each followed by the images assigned to it (slot k after sentence
    ``image_positions[k]``)."""
    m = s.meta
    texts, positions = list(m.get("texts") or []), list(m.get("image_positions") or [])
    similarities = list(m.get("similarities") or [])
    after: dict[int, list[dict[str, Any]]] = {}
    for k, position in enumerate(positions):
        data = s.images.get(f"{k}.jpg")
        if data is None:
            continue
        sim = _number(similarities[k]) if k < len(similarities) else None
        after.setdefault(position, []).append({"slot": k, "after": position, "image": thumbnail(data), "similarity": sim})
    blocks: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        blocks.append({"kind": "sentence", "index": i, "text": text})
        blocks += [{"kind": "image", **img} for img in after.get(i, [])]
    orphans = [img for p, imgs in after.items() if not 0 <= p < len(texts) for img in imgs]
    blocks += [{"kind": "image", **img} for img in orphans]  # a bad position still shows its image, at the end
    return {"key": s.key, "blocks": blocks, "n_images": sum(len(v) for v in after.values()),
            "n_sentences": len(texts), "num_tokens": m.get("num_tokens"), "source_url": safe_url(m.get("source_url"))}


def _conversation(s: Sample) -> dict[str, Any]:
    m = s.meta
    turns = []
    for turn in m.get("conversations") or []:
        content = str(turn.get("content") or "")
        has_image = content.startswith(IMAGE_PREFIX)
        turns.append({"role": str(turn.get("role") or "?"), "content": content[len(IMAGE_PREFIX):] if has_image else content,
                      "image": has_image})
    tags = {k: m.get(k) for k in ("task", "source", "generator", "prompt_version") if m.get(k)}
    return {"key": s.key, "image": thumbnail(s.images.get("jpg", b"")), "turns": turns, "tags": tags}


VIEWS = {"pairs": _pair, "interleaved": _document, "instruct": _conversation}


def _schema_name(folder: Path, stats: dict[str, Any]) -> str:
    name = stats.get("schema")
    if name in VIEWS:
        return name
    raise PreviewError(f"{folder}: stats.json names schema {name!r}; the preview knows {sorted(VIEWS)} "
                       "(give a folder written by `ja-vila build`)")


def _title(folder: Path) -> str:
    readme = folder / "README.md"
    if readme.is_file():
        try:
            from huggingface_hub import DatasetCard

            return DatasetCard.load(readme).data.to_dict().get("pretty_name") or folder.name
        except Exception:  # noqa: BLE001 - the title is cosmetic
            pass
    return folder.name


def render_preview(folder: str | os.PathLike, limit: int = 60) -> str:
    """The HTML page for ``folder`` (its first ``limit`` samples)."""
    folder = Path(folder)
    if not (folder / "stats.json").is_file():
        raise PreviewError(f"{folder}: no stats.json; give a dataset folder written by `ja-vila build`")
    stats = json.loads((folder / "stats.json").read_text(encoding="utf-8"))
    schema = _schema_name(folder, stats)
    items = [VIEWS[schema](s) for s in iter_samples(folder, limit=limit)]
    funnel = Funnel.from_list(stats.get("funnel") or [])
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("preview.html").render(
        title=_title(folder), schema=schema, items=items, total=stats.get("samples"), shards=stats.get("shards"),
        funnel=[{"stage": st.name, "input": st.input, "kept": st.kept,
                 "dropped": ", ".join(f"{r} {n}" for r, n in sorted(st.dropped.items(), key=lambda x: -x[1]))}
                for st in funnel.stages],
    )


def write_preview(folder: str | os.PathLike, out_html: str | os.PathLike | None = None, limit: int = 60) -> Path:
    """Write the preview of ``folder`` to ``out_html`` (default ``NAME-preview.html`` beside it); returns the path."""
    folder = Path(folder)
    out = Path(out_html) if out_html else folder.parent / f"{folder.name}-preview.html"
    html = render_preview(folder, limit=limit)
    atomic_write_text(out, html)
    logger.info("preview of %s: %s (%d kB)", folder, out, len(html.encode("utf-8")) // 1024)
    return out
