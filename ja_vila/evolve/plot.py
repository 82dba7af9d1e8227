"""Score and diversity per generation as a PNG: matplotlib when installed, else a tiny pure-Python
line chart (two polylines on a grid, zlib + the PNG chunk format), so the plot never needs extras."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

from dataset_builders.atomic import atomic_write_bytes

_W, _H, _M = 320, 200, 20
_COLOURS = {"score": (40, 90, 200), "diversity": (220, 80, 40)}


def png_bytes(width: int, height: int, pixels: list[bytearray]) -> bytes:
    """An RGB PNG from rows of ``width * 3`` bytes."""
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _line(px: list[bytearray], x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    for i in range(steps + 1):
        x = round(x0 + (x1 - x0) * i / steps)
        y = round(y0 + (y1 - y0) * i / steps)
        for dx in (0, 1):
            for dy in (0, 1):
                if 0 <= x + dx < _W and 0 <= y + dy < _H:
                    px[y + dy][3 * (x + dx):3 * (x + dx) + 3] = bytes(rgb)


def _fallback(series: dict[str, Sequence[float]]) -> bytes:
    px = [bytearray(b"\xff" * (_W * 3)) for _ in range(_H)]
    for k in range(5):  # grid at 0, .25, .5, .75, 1
        y = _H - _M - round(k / 4 * (_H - 2 * _M))
        _line(px, _M, y, _W - _M, y, (225, 225, 225))
    _line(px, _M, _H - _M, _W - _M, _H - _M, (0, 0, 0))
    _line(px, _M, _M, _M, _H - _M, (0, 0, 0))
    for name, values in series.items():
        n = len(values)
        pts = [(_M + round(i / max(n - 1, 1) * (_W - 2 * _M)),
                _H - _M - round(min(max(v, 0.0), 1.0) * (_H - 2 * _M))) for i, v in enumerate(values)]
        rgb = _COLOURS.get(name, (0, 0, 0))
        for (a, b), (c, d) in zip(pts, pts[1:], strict=False):
            _line(px, a, b, c, d, rgb)
        for a, b in pts:
            _line(px, a - 2, b, a + 2, b, rgb)
    return png_bytes(_W, _H, px)


def write_plot(path: Path, generations: Sequence[int], score: Sequence[float], diversity: Sequence[float]) -> str:
    """Write the plot; returns the backend used (``matplotlib`` or ``builtin``). Values in [0, 1]."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import io

        import matplotlib.pyplot as plt
    except ImportError:
        atomic_write_bytes(path, _fallback({"score": list(score), "diversity": list(diversity)}))
        return "builtin"
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(generations, score, marker="o", label="VQA accuracy")
    ax.plot(generations, diversity, marker="s", label="task diversity")
    ax.set_xlabel("generation")
    ax.set_ylim(0, 1)
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return "matplotlib"
