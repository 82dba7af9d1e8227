"""NSFW image filter: L2-normalised CLIP image embedding → small MLP → NSFW probability.

The design of dataset2metadata / LAION's CLIP-based-NSFW-Detector (the paper removed NSFW images
with dataset2metadata): embed the image with CLIP ViT-L/14 (OpenAI weights, 768-d), L2-normalise,
and run a small binary MLP. LAION's released ViT-L/14 head is an AutoKeras model
(``clip_autokeras_binary_nsfw.zip`` in https://github.com/LAION-AI/CLIP-based-NSFW-Detector); as far
as we know its layers are a feature-wise normalisation (mean/variance) then Dense 64 → 512 → 256 → 1
with ReLU and a sigmoid output (1 = NSFW) — the PyTorch ports name them ``norm.mean``,
``norm.variance``, ``linear_1`` … ``linear_4``, which :class:`NsfwHead` reproduces so a converted
state dict loads. This is an assumption from memory, so every size is configurable (``input_dim``,
``hidden_sizes``, ``normalize_input``).

Fail closed: a head without ``weights`` is refused (:class:`MissingWeights`, naming where to get
them and the key to set) unless the config says ``random: true`` — the tiny plumbing presets do,
and their dataset card then says "random NSFW head (plumbing only)". The builders check this before
the first stage (:func:`dataset_builders.scoring.preflight.check_models`), so nothing is read or
downloaded for a build that could not filter.

Config (YAML), e.g.::

    nsfw:
      scorer: {type: open_clip, model: ViT-L-14, pretrained: openai}
      head: {weights: /models/nsfw_l14.safetensors, hidden_sizes: [64, 512, 256]}
      threshold: 0.5          # an image is NSFW when p >= threshold
      mode: media             # or: document
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datatrove.data import DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep
from torch import nn

from dataset_builders.scoring.preflight import MissingWeights, reference_problem, scorer_problems
from dataset_builders.scoring.preprocess import ImageInput
from dataset_builders.scoring.presets import NSFW_HEAD_SOURCE, PAPER_NSFW_SCORER
from dataset_builders.scoring.registry import build_scorer
from dataset_builders.scoring.scorer import Scorer

logger = logging.getLogger(__name__)

NSFW_KEY = "nsfw"
LAION_L14_HIDDEN = (64, 512, 256)
WEIGHT_FILES = ("model.safetensors", "nsfw.safetensors", "model.pt", "model.pth", "pytorch_model.bin")


class _Normalization(nn.Module):
    """Keras ``Normalization``: ``(x - mean) / sqrt(variance)`` with stored statistics."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("variance", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.variance.clamp_min(1e-12).sqrt()


class NsfwHead(nn.Module):
    """MLP over an L2-normalised image embedding; ``forward`` returns the NSFW probability ``[n]``."""

    def __init__(self, input_dim: int = 768, hidden_sizes: Sequence[int] = LAION_L14_HIDDEN, normalize_input: bool = True):
        super().__init__()
        self.input_dim = input_dim
        self.hidden_sizes = tuple(hidden_sizes)
        self.norm = _Normalization(input_dim) if normalize_input else nn.Identity()
        sizes = [input_dim, *self.hidden_sizes, 1]
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            self.add_module(f"linear_{i}", nn.Linear(a, b))
        self.n_layers = len(sizes) - 1

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        for i in range(1, self.n_layers + 1):
            x = getattr(self, f"linear_{i}")(x)
            if i < self.n_layers:
                x = torch.relu(x)
        return x.squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(x))


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _weight_file_in(folder: Path, filename: str | None) -> Path | None:
    candidates = [folder / filename] if filename else [folder / f for f in WEIGHT_FILES]
    return next((p for p in candidates if p.is_file()), None)


def head_problems(head: Mapping[str, Any] | None, key: str = "nsfw.head") -> list[str]:
    """Why the head config ``head`` cannot give a usable head (offline; empty when it can)."""
    head = head or {}
    weights, random = head.get("weights"), bool(head.get("random", False))
    if weights is None:
        if random:
            return []
        return [f"{key}.weights is not set: the NSFW filter needs {NSFW_HEAD_SOURCE} — "
                f"set --set {key}.weights=FILE_OR_HUB_ID ({key}.random=true only for plumbing tests)"]
    if random:
        return [f"{key} sets both weights and random: true (keep one)"]
    problem = reference_problem(weights, f"{key}.weights")
    if problem:
        return [problem]
    folder = Path(weights).expanduser()
    if folder.is_dir() and _weight_file_in(folder, head.get("filename")) is None:
        return [f"{key}.weights={weights}: no {head.get('filename') or ' / '.join(WEIGHT_FILES)} in that folder"]
    return []


def require_head(head: NsfwHead | Mapping[str, Any] | None) -> None:
    """Raise :class:`MissingWeights` (one line: where to get the weights, which key) unless ``head`` is usable."""
    if not isinstance(head, NsfwHead) and (problems := head_problems(head)):
        raise MissingWeights("; ".join(problems))


def load_nsfw_head(
    weights: str | None = None,
    input_dim: int = 768,
    hidden_sizes: Sequence[int] = LAION_L14_HIDDEN,
    normalize_input: bool = True,
    filename: str | None = None,
    revision: str | None = None,
    seed: int | None = None,
    random: bool = False,
) -> NsfwHead:
    """A head with weights from a local file/folder or a Hub repo id (``filename`` in it).

    Without ``weights`` the head is refused unless ``random`` says a random head is wanted (plumbing).
    """
    require_head({"weights": weights, "random": random, "filename": filename})
    if seed is not None:
        torch.manual_seed(seed)
    head = NsfwHead(input_dim, hidden_sizes, normalize_input)
    if weights is None:
        logger.warning("NSFW head is random (random: true): its probabilities mean nothing — plumbing only")
        return head.eval()
    path = Path(weights).expanduser()
    if path.is_dir():
        path = _weight_file_in(path, filename)
        if path is None:
            raise FileNotFoundError(f"no NSFW head weights ({', '.join(WEIGHT_FILES)}) in {weights}")
    elif not path.is_file():
        from huggingface_hub import hf_hub_download

        try:
            path = Path(hf_hub_download(str(weights), filename or WEIGHT_FILES[0], revision=revision))
        except Exception as e:
            raise FileNotFoundError(f"NSFW head weights {weights!r}: not a local file and not on the Hub ({e})") from e
    try:
        head.load_state_dict(_read_state_dict(path), strict=True)
    except RuntimeError as e:
        raise ValueError(
            f"NSFW head weights {path} do not fit input_dim={input_dim}, hidden_sizes={list(hidden_sizes)}, "
            f"normalize_input={normalize_input}: {e}"
        ) from e
    return head.eval()


class NsfwDetector:
    """An image embedder (any :class:`Scorer`, normally CLIP ViT-L/14) plus an :class:`NsfwHead`."""

    def __init__(self, scorer: Scorer | Mapping[str, Any], head: NsfwHead | Mapping[str, Any] | None = None):
        require_head(head)  # before the scorer's weights are fetched
        self.scorer = build_scorer(scorer)
        if not isinstance(head, NsfwHead):
            cfg = dict(head or {})
            if cfg.get("input_dim") is None:
                cfg["input_dim"] = int(self.scorer.embed_texts(["."]).shape[1])
            head = load_nsfw_head(**cfg)
        self.head = head.eval()

    def probabilities(self, images: Sequence[ImageInput]) -> tuple[np.ndarray, dict[int, str]]:
        """NSFW probability per image (NaN where the image failed) and the failures by index."""
        emb = self.scorer.embed_images(images)
        probs = np.full(len(images), np.nan, dtype=np.float64)
        if bool(emb.ok.any()):
            with torch.inference_mode():
                p = self.head(emb.features[emb.ok].to(next(self.head.parameters()).dtype))
            probs[emb.ok.numpy()] = p.double().numpy()
        return probs, emb.errors


class NsfwFilter(PipelineStep):
    """Score every image; drop NSFW images (``media_dropped_nsfw``) or whole documents (``dropped_nsfw``).

    ``media.metadata["nsfw"]`` gets the probability. An image is NSFW when ``p >= threshold``.
    Images that fail to decode are dropped as ``media_dropped_<reason>``. In media mode a document
    left without images is dropped as ``dropped_no_image`` when ``drop_empty_documents``.
    """

    name = "🔞 NSFW (CLIP + MLP)"
    type = "🔻 - FILTER"

    def __init__(
        self,
        scorer: Scorer | Mapping[str, Any],
        head: NsfwHead | Mapping[str, Any] | None = None,
        threshold: float = 0.5,
        mode: str = "media",
        drop_empty_documents: bool = True,
        images_per_chunk: int = 256,
    ):
        super().__init__()
        if mode not in ("media", "document"):
            raise ValueError(f"NsfwFilter mode must be 'media' or 'document', got {mode!r}")
        require_head(head)  # fail when the pipeline is built, not in the middle of a stage
        self.scorer_config = scorer
        self.head_config = head
        self.threshold = threshold
        self.mode = mode
        self.drop_empty_documents = drop_empty_documents
        self.images_per_chunk = images_per_chunk
        self._detector: NsfwDetector | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_detector"] = None
        return state

    @property
    def detector(self) -> NsfwDetector:
        if self._detector is None:
            self._detector = NsfwDetector(self.scorer_config, self.head_config)
        return self._detector

    def _chunks(self, data: DocumentsPipeline):
        chunk, n = [], 0
        for doc in data:
            chunk.append(doc)
            n += len(doc.media)
            if n >= self.images_per_chunk:
                yield chunk
                chunk, n = [], 0
        if chunk:
            yield chunk

    def _drop_doc(self, reason: str) -> None:
        self.stat_update("dropped")
        self.stat_update(f"dropped_{reason}")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if data is None:
            return
        for chunk in self._chunks(data):
            media = [(d, m) for d in chunk for m in d.media if m.type == MediaType.IMAGE and m.media_bytes]
            with self.track_time("chunk"):
                probs, errors = self.detector.probabilities([m.media_bytes for _, m in media])
            verdict: dict[int, str | None] = {}  # id(media) -> drop reason or None
            for i, (doc, m) in enumerate(media):
                self.stat_update("media_total")
                if i in errors:
                    verdict[id(m)] = errors[i]
                    logger.warning("doc %s: image %s dropped (%s)", doc.id, m.url, errors[i])
                    continue
                m.metadata[NSFW_KEY] = float(probs[i])
                verdict[id(m)] = "nsfw" if probs[i] >= self.threshold else None
            for doc in chunk:
                self.stat_update("total")
                reasons = [verdict.get(id(m)) for m in doc.media]
                if self.mode == "document" and "nsfw" in reasons:
                    self._drop_doc("nsfw")
                    continue
                kept = []
                for m, reason in zip(doc.media, reasons, strict=True):
                    if reason is None:
                        kept.append(m)
                    else:
                        self.stat_update(f"media_dropped_{reason}")
                had_images = any(m.type == MediaType.IMAGE for m in doc.media)
                doc.media = kept
                if self.drop_empty_documents and had_images and not any(m.type == MediaType.IMAGE for m in kept):
                    self._drop_doc("no_image")
                    continue
                self.stat_update("forwarded")
                yield doc


@dataclass
class NsfwHeadConfig:
    """Where the head's weights come from (:func:`load_nsfw_head`'s arguments); ``random`` allows none."""

    weights: str | None = None
    random: bool = False
    input_dim: int | None = None  # None: the scorer's embedding size
    hidden_sizes: tuple[int, ...] = LAION_L14_HIDDEN
    normalize_input: bool = True
    filename: str | None = None
    revision: str | None = None
    seed: int | None = None


@dataclass
class NsfwConfig:
    """Builder config of the NSFW filter: CLIP image features → MLP head → probability.

    The paper uses dataset2metadata (CLIP ViT-L/14 features + LAION's MLP head); ``head.weights``
    points at the head's weights (a local file/folder or a Hub id). There is no default: a build
    without them refuses to start (``head.random: true`` for plumbing runs only).
    """

    scorer: dict[str, Any] = field(default_factory=lambda: dict(PAPER_NSFW_SCORER))
    head: NsfwHeadConfig = field(default_factory=NsfwHeadConfig)
    threshold: float = 0.5

    def problems(self, key: str = "nsfw") -> list[str]:
        """What stops this filter from starting (offline; see :mod:`dataset_builders.scoring.preflight`)."""
        problems = head_problems(asdict(self.head), f"{key}.head") + scorer_problems(self.scorer, f"{key}.scorer")
        dim = self.head.input_dim
        if not problems and dim is not None and self.scorer.get("type") == "open_clip":
            import open_clip

            embed_dim = (open_clip.get_model_config(self.scorer["model"]) or {}).get("embed_dim")
            if embed_dim is not None and embed_dim != dim:
                problems.append(f"{key}.head.input_dim={dim} but {self.scorer['model']} embeds to {embed_dim}")
        return problems


def nsfw_steps(config: NsfwConfig | None) -> list[PipelineStep]:
    """The NSFW step a builder inserts, or none (with a warning) when the config turns it off."""
    if config is None:
        logger.warning("NSFW filtering is off (nsfw: null in the config)")
        return []
    return [NsfwFilter(config.scorer, asdict(config.head), config.threshold)]


def nsfw_card_line(config: NsfwConfig | None) -> str:
    """The dataset card's NSFW row: what was removed, and with which weights."""
    if config is None:
        return "off"
    removed = f"p ≥ {config.threshold} removed ({config.scorer}"
    if config.head.random:
        return f"random NSFW head (plumbing only): {removed})"
    return f"{removed}, head weights {config.head.weights})"
