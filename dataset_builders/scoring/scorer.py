"""The scorer interface: embed images, embed texts, cosine similarity — batched, on GPU when present.

Similarity is always the **cosine of L2-normalised embeddings**: every embedding a scorer returns is
L2-normalised (float32, on the CPU), so ``image @ text.T`` is the cosine-similarity matrix and
``(image * text).sum(-1)`` the per-pair cosine. Scores are therefore comparable across batch sizes
and devices, and the numbers are CLIP's usual ones (the paper's 0.20 threshold is on this scale).

A concrete scorer supplies two hooks, ``_encode_pixels`` and ``_encode_texts``, and an image
transform; :class:`BaseScorer` does the decoding in worker threads (overlapping the forward),
batching, ``torch.inference_mode``, optional fp16/bf16 autocast on GPU, and failure accounting: an
image that cannot be decoded gets a NaN row, ``ok=False`` and a reason, never an exception.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from dataset_builders.errors import UserInputError
from dataset_builders.images import ImageError
from dataset_builders.scoring.loading import batched, default_workers, prefetch_map
from dataset_builders.scoring.preprocess import CallableTransform, ImageInput, ImageTransform, decode_rgb

logger = logging.getLogger(__name__)

_DTYPES = {
    None: None, "fp32": None, "float32": None,
    "fp16": torch.float16, "float16": torch.float16, "half": torch.float16,
    "bf16": torch.bfloat16, "bfloat16": torch.bfloat16,
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the first CUDA GPU when there is one, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: fp16/bf16 only on GPU (on CPU the request is ignored and fp32 used)."""
    if isinstance(dtype, torch.dtype):
        dt = None if dtype == torch.float32 else dtype
    else:
        if dtype not in _DTYPES:
            raise UserInputError(f"dtype must be one of fp32, fp16, bf16; got {dtype!r}")
        dt = _DTYPES[dtype]
    if dt is not None and device.type != "cuda":
        logger.info("dtype %s requested on %s: running in float32", dt, device)
        return None
    return dt


@dataclass
class ImageEmbeddings:
    """Embeddings of ``n`` images: ``features[i]`` is L2-normalised, or NaN where ``ok[i]`` is False."""

    features: torch.Tensor  # [n, d] float32
    ok: torch.Tensor  # [n] bool
    errors: dict[int, str] = field(default_factory=dict)  # index -> reason

    @property
    def failures(self) -> Counter[str]:
        return Counter(self.errors.values())

    def __len__(self) -> int:
        return self.features.shape[0]


@runtime_checkable
class Scorer(Protocol):
    """What the builders need from a CLIP-like model (see the module docstring for the scale)."""

    name: str

    def embed_images(self, images: Sequence[ImageInput]) -> ImageEmbeddings: ...

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor: ...

    def similarity(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor: ...


def cosine_matrix(image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
    """``[n_images, n_texts]`` cosine similarities of L2-normalised embeddings."""
    return image_features @ text_features.T


def cosine_pairs(image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
    """``[n]`` cosine similarity of row ``i`` of each (both L2-normalised)."""
    return (image_features * text_features).sum(-1)


class BaseScorer:
    """Batching, devices, decoding and failure handling shared by every scorer."""

    def __init__(
        self,
        name: str,
        transform: ImageTransform | CallableTransform,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
        batch_size: int = 64,
        text_batch_size: int | None = None,
        num_workers: int | None = None,
    ):
        if batch_size < 1:
            raise UserInputError(f"batch_size must be >= 1, got {batch_size}")
        self.name = name
        self.transform = transform
        self.device = resolve_device(device)
        self.autocast_dtype = resolve_dtype(dtype, self.device)
        self.batch_size = batch_size
        self.text_batch_size = text_batch_size or batch_size * 4
        self.num_workers = default_workers(self.device) if num_workers is None else num_workers

    # ---- hooks for subclasses: inputs already on self.device; return raw (unnormalised) features
    def _encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _encode_texts(self, texts: list[str]) -> torch.Tensor:
        raise NotImplementedError

    # ---- internals
    def _context(self) -> contextlib.AbstractContextManager:
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self.autocast_dtype is not None:
            stack.enter_context(torch.autocast(self.device.type, dtype=self.autocast_dtype))
        return stack

    @staticmethod
    def _normalise(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x.float(), dim=-1).cpu()

    @property
    def draft_size(self) -> tuple[int, int] | None:
        return self.transform.draft_size

    # ---- building blocks (used by the pipeline steps to share one decode between several scorers)
    def load(self, image: ImageInput) -> torch.Tensor:
        """Decode + resize one image on the CPU (thread-safe); raises :class:`ImageError`."""
        return self.transform(decode_rgb(image, self.draft_size))

    def encode_loaded(self, loaded: Sequence[torch.Tensor]) -> torch.Tensor:
        """L2-normalised embeddings ``[n, d]`` of images returned by :meth:`load` (one forward per batch)."""
        out = []
        for chunk in batched(loaded, self.batch_size):
            with self._context():
                pixels = self.transform.collate(chunk, self.device, torch.float32)
                out.append(self._normalise(self._encode_pixels(pixels)))
        return torch.cat(out) if out else torch.empty(0, 0)

    def iter_loaded(self, items: Iterable[Any], image_of=lambda x: x, lookahead: int | None = None) -> Iterator:
        """``(item, loaded tensor or ImageError)`` in order, decoding ahead in worker threads."""
        lookahead = lookahead or self.batch_size * 2
        return prefetch_map(lambda it: self.load(image_of(it)), items, self.num_workers, lookahead)

    # ---- the Scorer protocol
    def embed_images(self, images: Sequence[ImageInput]) -> ImageEmbeddings:
        """Embed ``images`` (PIL or bytes); undecodable ones get a NaN row, ``ok=False`` and a reason."""
        n = len(images)
        rows: list[torch.Tensor | None] = [None] * n
        errors: dict[int, str] = {}
        for chunk in batched(self.iter_loaded(range(n), image_of=images.__getitem__), self.batch_size):
            good = [(i, t) for i, t in chunk if not isinstance(t, Exception)]
            for i, t in chunk:
                if isinstance(t, Exception):
                    errors[i] = t.reason if isinstance(t, ImageError) else "load_error"
                    logger.warning("%s: image %d skipped (%s): %s", self.name, i, errors[i], t)
            if good:
                feats = self.encode_loaded([t for _, t in good])
                for (i, _), f in zip(good, feats, strict=True):
                    rows[i] = f
        dim = next((r.shape[0] for r in rows if r is not None), None)
        if dim is None:
            dim = self.embedding_dim
        features = torch.full((n, dim), float("nan"))
        ok = torch.zeros(n, dtype=torch.bool)
        for i, r in enumerate(rows):
            if r is not None:
                features[i] = r
                ok[i] = True
        return ImageEmbeddings(features, ok, errors)

    def embed_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """L2-normalised text embeddings ``[n, d]`` (float32, CPU)."""
        out = []
        for chunk in batched(list(texts), self.text_batch_size):
            with self._context():
                out.append(self._normalise(self._encode_texts(chunk)))
        return torch.cat(out) if out else torch.empty(0, self.embedding_dim)

    def similarity(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        return cosine_matrix(image_features, text_features)

    def score_pairs(self, images: Sequence[ImageInput], texts: Sequence[str]) -> tuple[torch.Tensor, dict[int, str]]:
        """Cosine of each (image, text) pair: ``[n]`` float32 with NaN for failed images, and the failures."""
        if len(images) != len(texts):
            raise ValueError(f"score_pairs needs as many texts as images, got {len(images)} and {len(texts)}")
        img = self.embed_images(images)
        return cosine_pairs(img.features, self.embed_texts(texts)), img.errors

    @property
    def embedding_dim(self) -> int:
        return int(self.embed_texts(["."]).shape[1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, device={self.device}, batch_size={self.batch_size})"
