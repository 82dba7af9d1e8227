"""When to retry a request and how long to wait: exponential backoff with full jitter, or the
server's ``Retry-After`` when it sends one.

Retried: 429 (rate limit), 408/409, every 5xx, timeouts and connection errors. Not retried: other
4xx (a bad request or a bad key does not get better by asking again).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

RETRYABLE_STATUS = frozenset({408, 409, 429})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def parse_retry_after(headers: object, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``Retry-After`` (seconds or an HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


@dataclass
class RetryPolicy:
    max_retries: int = 5
    base_s: float = 1.0
    max_s: float = 60.0
    max_retry_after_s: float = 120.0
    rng: random.Random | None = None

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based).

        A server's ``Retry-After`` wins (capped at ``max_retry_after_s``, plus up to 10% jitter so
        that many clients told the same time do not all come back at once); otherwise full jitter:
        uniform in ``[0, min(max_s, base_s * 2**attempt)]``.
        """
        rng = self.rng or random
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after_s)
            return wait + rng.uniform(0, 0.1 * wait)
        return rng.uniform(0, min(self.max_s, self.base_s * (2**attempt)))
