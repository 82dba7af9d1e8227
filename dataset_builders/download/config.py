"""Every knob of the image downloader in one dataclass, with defaults that are polite on the open web.

The defaults follow MMC4 / img2dataset practice (800-pixel max side, a few retries, minutes-scale
deadlines) and add what those tools leave out: robots.txt, per-domain limits, an SSRF guard.
``DownloadConfig`` is a plain dataclass so it pickles (datatrove executors) and round-trips
through JSON/YAML (``DownloadConfig(**mapping)``; lists become tuples).
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dataset_builders.images import JPEG_QUALITY, MAX_PIXELS
from dataset_builders.project import PROJECT_URL, VERSION

DEFAULT_USER_AGENT = f"ja-vila/{VERSION} (+{PROJECT_URL}; Japanese VLM dataset research)"


@dataclass
class DownloadConfig:
    """Settings of :class:`~dataset_builders.download.downloader.ImageDownloader`."""

    #: Sent with every request; names the project and where to complain.
    user_agent: str = DEFAULT_USER_AGENT
    #: Product token matched against robots.txt ``User-agent`` lines (default: ``user_agent`` up to "/").
    robots_agent: str | None = None

    # -- concurrency and politeness ------------------------------------------------------------
    #: Requests in flight at once over all domains.
    max_concurrency: int = 64
    #: Requests in flight at once to one domain (host name).
    per_domain_concurrency: int = 4
    #: Request starts per second to one domain; 0 disables the rate limit.
    per_domain_rate: float = 8.0
    #: Skip a domain holding more than this share of a run's URLs (``None``: no share rule) ...
    frequent_domain_max_share: float | None = 0.05
    #: ... the share rule only applies to runs of at least this many URLs ...
    frequent_domain_min_urls: int = 1000
    #: ... and skip a domain with more than this many URLs in a run (``None``: no count rule).
    frequent_domain_max_count: int | None = None
    #: Domains never contacted (status ``frequent_domain``), e.g. the merged result of a counting pass.
    skip_domains: tuple[str, ...] = ()

    # -- opt-outs --------------------------------------------------------------------------------
    #: Fetch robots.txt once per host and obey it (``robots_disallowed``).
    respect_robots: bool = True
    #: Largest robots.txt read (bytes); longer files are cut.
    robots_max_bytes: int = 512 * 1024
    #: ``X-Robots-Tag`` directives that forbid keeping the image (``x_robots_noai``).
    x_robots_directives: tuple[str, ...] = ("noai", "noimageai")

    # -- time and size limits ------------------------------------------------------------------
    #: Seconds to open a TCP (and TLS) connection.
    connect_timeout: float = 10.0
    #: Longest silence (seconds) while waiting for headers or body bytes.
    read_timeout: float = 20.0
    #: Seconds for one HTTP exchange (connect, headers, whole body): ends slow drips.
    request_timeout: float = 60.0
    #: Seconds for one URL from its first request to its final status, retries and redirects included.
    url_deadline: float = 180.0
    #: Largest body kept; reading stops past it (``too_large``).
    max_bytes: int = 20 * 1024 * 1024
    #: Pixel cap checked before decoding (``too_many_pixels``).
    max_pixels: int = MAX_PIXELS

    # -- retries -----------------------------------------------------------------------------------
    #: Extra attempts after a retryable failure (429, 5xx, timeouts, connection errors).
    max_retries: int = 2
    #: First backoff in seconds; doubles each attempt, with full jitter.
    backoff_base: float = 1.0
    #: Longest backoff in seconds.
    backoff_max: float = 30.0
    #: Longest ``Retry-After`` honoured (seconds); longer requests are capped to this.
    max_retry_after: float = 60.0
    #: On a resumed run, fetch again the URLs whose last status was retryable.
    retry_failed: bool = False

    # -- redirects and SSRF ----------------------------------------------------------------------
    #: Redirects followed per request (``too_many_redirects`` past it); every hop is checked again.
    max_redirects: int = 5
    #: Refuse hosts that resolve to private, loopback, link-local, multicast, reserved addresses.
    ssrf_guard: bool = True
    #: Networks reachable despite the guard, e.g. ``("127.0.0.1/32",)`` for a test server.
    allow_networks: tuple[str, ...] = ()
    #: Static host -> addresses map used instead of DNS (tests, demos); still checked by the guard.
    static_hosts: dict[str, list[str]] = field(default_factory=dict)

    # -- images ------------------------------------------------------------------------------------
    #: Longest side of stored images (downscaled, aspect kept); ``None`` keeps the original size.
    max_side: int | None = 800
    #: JPEG quality when an image has to be (re-)encoded.
    jpeg_quality: int = JPEG_QUALITY
    #: Threads that decode / resize / encode.
    decode_workers: int = 2

    # -- persistence ---------------------------------------------------------------------------------
    #: Results buffered before they are written (one atomic tar chunk + status lines) ...
    flush_every: int = 256
    #: ... or after this many seconds, whichever comes first.
    flush_interval: float = 30.0
    #: URLs scheduled at once (bounds memory on long lists); default 8 x ``max_concurrency``.
    max_pending: int | None = None

    def __post_init__(self) -> None:
        for name in ("skip_domains", "x_robots_directives", "allow_networks"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            setattr(self, name, tuple(value))
        self.static_hosts = {h.lower(): [a] if isinstance(a, str) else list(a) for h, a in self.static_hosts.items()}
        self.skip_domains = tuple(d.lower() for d in self.skip_domains)
        self.x_robots_directives = tuple(d.strip().lower() for d in self.x_robots_directives)
        positive = ("max_concurrency", "per_domain_concurrency", "connect_timeout", "read_timeout",
                    "request_timeout", "url_deadline", "max_bytes", "max_pixels", "decode_workers",
                    "flush_every", "flush_interval", "robots_max_bytes")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"DownloadConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("per_domain_rate", "max_retries", "backoff_base", "backoff_max", "max_retry_after",
                     "max_redirects"):
            if getattr(self, name) < 0:
                raise ValueError(f"DownloadConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.max_side is not None and self.max_side < 1:
            raise ValueError(f"DownloadConfig.max_side must be >= 1 or None, got {self.max_side!r}")
        if self.frequent_domain_max_share is not None and not 0 < self.frequent_domain_max_share <= 1:
            raise ValueError("DownloadConfig.frequent_domain_max_share must be in (0, 1] or None, "
                             f"got {self.frequent_domain_max_share!r}")
        for spec in self.allow_networks:
            try:
                ipaddress.ip_network(spec, strict=False)
            except ValueError as e:
                raise ValueError(f"DownloadConfig.allow_networks: {spec!r} is not a network "
                                 "(write e.g. '127.0.0.1/32' or '::1/128')") from e

    @property
    def agent_token(self) -> str:
        """The robots.txt product token (``ja-vila`` for the default User-Agent)."""
        return (self.robots_agent or self.user_agent.split("/", 1)[0].split()[0]).strip().lower()

    @property
    def pending_limit(self) -> int:
        return self.max_pending or 8 * self.max_concurrency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> DownloadConfig:
        """Build from a mapping (YAML/JSON); unknown keys are an error that names them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"unknown DownloadConfig keys {unknown}; known keys: {sorted(known)}")
        return cls(**mapping)
