"""Chat messages with text and images, in the OpenAI format (images as base64 data URLs).

Images stay bytes inside :class:`ImagePart` until the request is sent, so the cache key can hash
them (``sha256``) instead of hashing megabytes of base64.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_mime(data: bytes) -> str:
    """MIME type of encoded image bytes by their magic number (JPEG when unknown)."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def image_data_url(data: bytes, mime: str | None = None) -> str:
    """``data:image/...;base64,...`` for ``data`` (what OpenAI, vLLM and SGLang accept inline)."""
    return f"data:{mime or sniff_mime(data)};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass(frozen=True)
class ImagePart:
    data: bytes
    detail: str | None = None  # OpenAI "low" / "high" / "auto"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Message:
    """One chat message: a role and a list of parts (``str`` for text, :class:`ImagePart`)."""

    role: str
    parts: list[str | ImagePart] = field(default_factory=list)

    @classmethod
    def text(cls, role: str, text: str) -> Message:
        return cls(role, [text])

    def to_openai(self) -> dict[str, Any]:
        """The wire format: plain string content for text-only messages, a part list otherwise."""
        if all(isinstance(p, str) for p in self.parts):
            return {"role": self.role, "content": "".join(self.parts)}  # type: ignore[arg-type]
        content: list[dict[str, Any]] = []
        for p in self.parts:
            if isinstance(p, str):
                content.append({"type": "text", "text": p})
            else:
                image_url: dict[str, Any] = {"url": image_data_url(p.data)}
                if p.detail:
                    image_url["detail"] = p.detail
                content.append({"type": "image_url", "image_url": image_url})
        return {"role": self.role, "content": content}

    def to_key(self) -> dict[str, Any]:
        """A hashable description for the cache key: text verbatim, images by content hash."""
        return {
            "role": self.role,
            "parts": [p if isinstance(p, str) else {"image_sha256": p.sha256, "detail": p.detail} for p in self.parts],
        }
