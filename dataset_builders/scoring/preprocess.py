"""Image preprocessing for CLIP scorers: decode once, resize + crop on the CPU, normalise on the device.

Why not the models' own processors: they work image by image in float32 on the CPU and decode the
full-resolution image first. Here a worker thread decodes (JPEGs in PIL's DCT-domain *draft* mode
straight to the smallest scale that is still at least the model's input size), resizes and crops to
a uint8 ``H×W×3`` array; the batch is converted to float and normalised in one tensor op on the
model's device. With ``fast=False`` the pixels equal open_clip's own eval transform (PIL bicubic
resize of the shortest edge, centre crop, ``ToTensor``, ``Normalize``) bit for bit; a test pins that.
``fast=True`` (default) adds JPEG draft decoding and resamples only the crop box (no full-size resize
then crop): about 25% less resize work, and at most 1-2/255 off on ~1% of pixels.

Anything that cannot be expressed this way (a remote-code processor, say) is wrapped as
:class:`CallableTransform`, which calls the model's own transform in the worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from dataset_builders.images import MAX_PIXELS, ImageError, decode_image, to_rgb

ImageInput = bytes | bytearray | memoryview | Image.Image

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def decode_rgb(image: ImageInput, draft_size: tuple[int, int] | None = None, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An RGB PIL image from bytes or a PIL image; raises :class:`ImageError` with a reason.

    ``draft_size`` (width, height): a JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that
    still covers it (PIL ``draft``), several times faster than a full decode for web-sized photos.
    Decoding and its refusals are :func:`dataset_builders.images.decode_image`'s.
    """
    if isinstance(image, Image.Image):
        return to_rgb(image)
    if not isinstance(image, bytes | bytearray | memoryview):
        raise ImageError("not_an_image", f"expected image bytes or a PIL image, got {type(image).__name__}")
    return to_rgb(decode_image(bytes(image), max_pixels=max_pixels, draft_size=draft_size))


@dataclass(frozen=True)
class ImageTransform:
    """Resize + crop to ``size`` (height, width) as uint8, then normalise a whole batch on the device.

    ``resize_mode``: ``"shortest"`` resizes the shortest edge to the crop size and centre-crops (the
    CLIP default), ``"squash"`` resizes straight to ``size`` ignoring the aspect ratio.
    """

    size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = OPENAI_MEAN
    std: tuple[float, float, float] = OPENAI_STD
    resize_mode: str = "shortest"
    resample: str = "bicubic"
    shortest_edge: int | None = None  # resize target before the crop (HF processors); default min(size)
    fast: bool = True  # JPEG draft decode + crop-box resampling (see the module docstring)

    def __post_init__(self) -> None:
        if self.resize_mode not in ("shortest", "squash"):
            raise ValueError(f"resize_mode must be 'shortest' or 'squash', got {self.resize_mode!r}")
        if self.resample not in _RESAMPLE:
            raise ValueError(f"resample must be one of {sorted(_RESAMPLE)}, got {self.resample!r}")

    @property
    def draft_size(self) -> tuple[int, int] | None:
        """(width, height) a JPEG must at least be decoded at; ``None`` disables draft decoding."""
        if not self.fast:
            return None
        h, w = self.size
        if self.resize_mode == "squash":
            return (w, h)
        edge = self.shortest_edge or min(h, w)
        return (max(edge, w), max(edge, h))

    def __call__(self, img: Image.Image) -> torch.Tensor:
        """uint8 tensor ``[H, W, 3]`` of an RGB image (thread-safe; PIL releases the GIL)."""
        h, w = self.size
        resample = _RESAMPLE[self.resample]
        if self.resize_mode == "squash":
            img = img.resize((w, h), resample)
        else:
            # torchvision Resize(int): shortest edge -> edge, the other int(edge * long / short).
            edge = self.shortest_edge or min(h, w)
            iw, ih = img.size
            if iw <= ih:
                nw, nh = edge, int(edge * ih / iw)
            else:
                nw, nh = int(edge * iw / ih), edge
            # torchvision CenterCrop: offsets int(round((in - out) / 2)).
            top, left = int(round((nh - h) / 2.0)), int(round((nw - w) / 2.0))
            if self.fast and (nw, nh) != (iw, ih):
                # Resample only the source region that survives the crop, at the same scale.
                sx, sy = iw / nw, ih / nh
                img = img.resize((w, h), resample, box=(left * sx, top * sy, (left + w) * sx, (top + h) * sy))
            else:
                if (nw, nh) != (iw, ih):
                    img = img.resize((nw, nh), resample)
                if (nw, nh) != (w, h):
                    img = img.crop((left, top, left + w, top + h))
        return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())

    def collate(self, items: Sequence[torch.Tensor], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """``[B, 3, H, W]`` normalised pixels on ``device`` from per-image uint8 ``[H, W, 3]`` tensors."""
        batch = torch.stack(list(items)).to(device, non_blocking=True)
        x = batch.permute(0, 3, 1, 2).to(dtype).div_(255.0)
        mean = torch.tensor(self.mean, device=device, dtype=dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device, dtype=dtype).view(1, 3, 1, 1)
        return x.sub_(mean).div_(std)

    @classmethod
    def from_open_clip(cls, preprocess_cfg: dict[str, Any], fast: bool = True) -> ImageTransform:
        """From ``open_clip.get_model_preprocess_cfg(model)`` (size, mean, std, interpolation, resize_mode)."""
        size = preprocess_cfg.get("size", 224)
        size = (size, size) if isinstance(size, int) else tuple(size)
        resize_mode = preprocess_cfg.get("resize_mode", "shortest")
        if resize_mode not in ("shortest", "squash") or (resize_mode == "shortest" and size[0] != size[1]):
            raise ValueError(f"open_clip preprocess {preprocess_cfg} has no fast equivalent")
        return cls(
            size=size,
            mean=tuple(preprocess_cfg.get("mean", OPENAI_MEAN)),
            std=tuple(preprocess_cfg.get("std", OPENAI_STD)),
            resize_mode=resize_mode,
            resample=preprocess_cfg.get("interpolation", "bicubic"),
            fast=fast,
        )

    @classmethod
    def from_hf_processor(cls, processor: Any, fast: bool = True) -> ImageTransform:
        """From a transformers CLIP-style image processor (shortest_edge resize, centre crop, rescale, normalise)."""
        p = getattr(processor, "image_processor", processor)
        size = dict(getattr(p, "size", None) or {})
        crop = dict(getattr(p, "crop_size", None) or {})
        if getattr(p, "do_center_crop", False) and "shortest_edge" in size and crop:
            out, mode, edge = (crop["height"], crop["width"]), "shortest", size["shortest_edge"]
        elif "height" in size and "width" in size and not getattr(p, "do_center_crop", False):
            out, mode, edge = (size["height"], size["width"]), "squash", None
        else:
            raise ValueError(f"image processor {type(p).__name__} (size={size}, crop={crop}) has no fast equivalent")
        rescale = getattr(p, "rescale_factor", 1 / 255) if getattr(p, "do_rescale", True) else 1.0
        if abs(rescale - 1 / 255) > 1e-9 or not getattr(p, "do_normalize", True):
            raise ValueError(f"image processor {type(p).__name__} does not rescale by 1/255 and normalise")
        resample = {
            int(v): k for k, v in _RESAMPLE.items()
        }.get(int(getattr(p, "resample", Image.Resampling.BICUBIC)), "bicubic")
        return cls(size=out, mean=tuple(p.image_mean), std=tuple(p.image_std), resize_mode=mode,
                   resample=resample, shortest_edge=edge, fast=fast)


class CallableTransform:
    """A model's own ``PIL image -> float tensor [3, H, W]`` transform, run in the worker threads."""

    draft_size = None

    def __init__(self, fn: Callable[[Image.Image], torch.Tensor]):
        self.fn = fn

    def __call__(self, img: Image.Image) -> torch.Tensor:
        out = self.fn(img)
        if isinstance(out, dict) or hasattr(out, "keys"):  # an HF processor's BatchFeature
            out = out["pixel_values"]
        out = torch.as_tensor(np.asarray(out)) if not isinstance(out, torch.Tensor) else out
        return out[0] if out.dim() == 4 else out

    def collate(self, items: Sequence[torch.Tensor], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        return torch.stack(list(items)).to(device=device, dtype=dtype)


def hf_processor_callable(processor: Any) -> Callable[[Image.Image], torch.Tensor]:
    """Wrap an HF image processor as ``PIL -> [3, H, W]`` (for :class:`CallableTransform`)."""

    def fn(img: Image.Image) -> torch.Tensor:
        return processor(images=[img], return_tensors="pt")["pixel_values"][0]

    return fn
