"""The outcome of one URL: a status string (``ok`` or the reason it failed) plus the stored image.

Statuses are short, stable strings: they become drop counters (``media_dropped_<status>``), lines of
the persisted status log, and the key for retrying failures later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK = "ok"
FREQUENT_DOMAIN = "frequent_domain"
ROBOTS_DISALLOWED = "robots_disallowed"
ROBOTS_UNREACHABLE = "robots_unreachable"
X_ROBOTS_NOAI = "x_robots_noai"
SSRF_BLOCKED = "ssrf_blocked"
BAD_URL = "bad_url"
DNS_ERROR = "dns_error"
CONNECTION_ERROR = "connection_error"
TIMEOUT = "timeout"
#: The URL's ``url_deadline`` passed, whatever it was waiting for (a domain slot, robots.txt, an answer).
DEADLINE = "deadline"
TOO_LARGE = "too_large"
TOO_MANY_REDIRECTS = "too_many_redirects"
NOT_AN_IMAGE = "not_an_image"
TOO_MANY_PIXELS = "too_many_pixels"
UNDECODABLE = "undecodable"
INTERNAL_ERROR = "internal_error"

#: Statuses worth another try (now, with backoff, and later with ``retry_failed``).
RETRYABLE = frozenset({TIMEOUT, DEADLINE, CONNECTION_ERROR, ROBOTS_UNREACHABLE, "http_408", "http_425", "http_429"})


def http_status(code: int) -> str:
    """Status for a final non-success HTTP answer, e.g. ``http_404``."""
    return f"http_{code}"


def is_retryable(status: str) -> bool:
    """True for transient failures: timeouts, connection errors, 408/425/429 and every 5xx."""
    if status in RETRYABLE:
        return True
    return status.startswith("http_5") and len(status) == 8


@dataclass
class DownloadResult:
    """What happened to one URL; ``image`` holds the stored JPEG bytes when ``status == "ok"``."""

    url: str
    status: str
    image: bytes | None = None
    width: int | None = None
    height: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    format: str | None = None
    final_url: str | None = None
    attempts: int = 0
    error: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    robots_txt: str | None = None  # allowed, no_robots_txt or not_checked
    x_robots_tag: str | None = None
    sha256: str | None = None  # of the bytes as downloaded

    @property
    def ok(self) -> bool:
        return self.status == OK

    def metadata(self) -> dict[str, Any]:
        """The fields a pipeline stores in ``Media.metadata`` (provenance names as in the schema)."""
        meta: dict[str, Any] = {"status": self.status}
        if self.ok:
            meta.update(width=self.width, height=self.height, original_width=self.original_width,
                        original_height=self.original_height, format=self.format, stored_format="jpeg",
                        http_status=self.http_status, content_type=self.content_type, robots_txt=self.robots_txt,
                        x_robots_tag=self.x_robots_tag, sha256=self.sha256)
            if self.final_url and self.final_url != self.url:
                meta["final_url"] = self.final_url
        return meta

    def to_record(self) -> dict[str, Any]:
        """JSON-able record of the status log (without the image bytes)."""
        rec = {"url": self.url, "status": self.status, "attempts": self.attempts}
        for key in _RECORD_KEYS:
            value = getattr(self, key)
            if value is not None:
                rec[key] = value
        return rec

    @classmethod
    def from_record(cls, rec: dict[str, Any], image: bytes | None = None) -> DownloadResult:
        return cls(url=rec["url"], status=rec["status"], image=image, attempts=int(rec.get("attempts", 0)),
                   **{k: rec.get(k) for k in _RECORD_KEYS})


#: Optional fields persisted in the status log (a resumed run restores them with the image).
_RECORD_KEYS = ("width", "height", "original_width", "original_height", "format", "final_url", "error",
                "http_status", "content_type", "robots_txt", "x_robots_tag", "sha256")
