"""Overlap image decoding with the model forward: an ordered thread-pool map with bounded look-ahead.

PIL decodes and resizes with the GIL released and torch runs its kernels with the GIL released, so
plain threads are enough: while the main thread runs batch *i* through the model, the pool decodes
batch *i + 1*. Results come back in input order; a failure is returned (not raised) as the
exception object, so one bad image never stops a batch.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from dataset_builders.images import ImageError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def default_workers(device: Any = None) -> int:
    """Decode threads. With a GPU: the cores this process may use, at most 8. On the CPU the forward
    already runs on ``torch.get_num_threads()`` cores, and decode threads on the same cores only make
    both slower (OpenMP threads wait on preempted peers), so only the spare cores get decode threads
    (0 = decode inline, between forwards)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    if device is not None and getattr(device, "type", str(device)) == "cpu":
        import torch

        return max(0, min(8, n - torch.get_num_threads()))
    return max(1, min(8, n))


def _call(fn: Callable[[T], R], item: T) -> R | Exception:
    try:
        return fn(item)
    except ImageError as e:
        return e
    except Exception as e:  # a bad record must not stop the stream; the caller counts it
        return ImageError("load_error", f"{type(e).__name__}: {e}")


def prefetch_map(
    fn: Callable[[T], R], items: Iterable[T], workers: int, lookahead: int
) -> Iterator[tuple[T, R | ImageError]]:
    """``(item, fn(item) or the ImageError)`` in input order, computing up to ``lookahead`` items ahead."""
    if workers <= 0:
        for item in items:
            yield item, _call(fn, item)
        return
    lookahead = max(1, lookahead)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ja-vila-decode")
    pending: deque[tuple[T, Future]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(_call, fn, item)))
            if len(pending) >= lookahead:
                head, fut = pending.popleft()
                yield head, fut.result()
        while pending:
            head, fut = pending.popleft()
            yield head, fut.result()
    finally:
        for _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def batched(iterable: Iterable[T], n: int) -> Iterator[list[T]]:
    """Lists of ``n`` consecutive items (the last one shorter)."""
    batch: list[T] = []
    for x in iterable:
        batch.append(x)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch
