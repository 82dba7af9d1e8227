"""The polite, SSRF-safe, resumable image downloader (issue 3).

- :class:`DownloadConfig` — every knob (limits, timeouts, retries, robots, SSRF allow-list, resize).
- :class:`ImageDownloader` — ``await fetch_many(urls)`` / ``download(urls)`` -> ``{url: DownloadResult}``.
- :class:`~dataset_builders.download.step.DownloadImages` — the datatrove step (imported lazily so that
  the downloader itself does not import datatrove).
"""

from __future__ import annotations

from dataset_builders.download.config import DEFAULT_USER_AGENT, DownloadConfig
from dataset_builders.download.downloader import ImageDownloader
from dataset_builders.download.rate_limit import frequent_domains
from dataset_builders.download.result import RETRYABLE, DownloadResult, is_retryable
from dataset_builders.download.ssrf import blocked_reason

__all__ = ["DEFAULT_USER_AGENT", "RETRYABLE", "DownloadConfig", "DownloadImages", "DownloadResult",
           "ImageDownloader", "blocked_reason", "frequent_domains", "is_retryable"]


def __getattr__(name: str):
    if name == "DownloadImages":
        from dataset_builders.download.step import DownloadImages

        return DownloadImages
    raise AttributeError(name)
