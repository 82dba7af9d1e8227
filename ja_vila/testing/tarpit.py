"""A loopback tarpit: accepts TCP connections and never answers (not even with an error), like a
hung server or a firewall that swallows packets after the handshake.

    with TarpitServer() as tarpit:
        ...  # point a client at tarpit.url; it must give up on its own
        assert tarpit.accepted >= 1

It stops by itself after ``hold_s`` seconds (or when the ``with`` block ends): connections are
closed and the accept thread is joined, so a test never leaves anything behind.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Self


class TarpitServer:
    """See the module docstring. ``accepted`` counts the connections taken (and never answered)."""

    def __init__(self, host: str = "127.0.0.1", hold_s: float = 300.0):
        self.host, self.hold_s = host, hold_s
        self.port = 0
        self.accepted = 0
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._sock = socket.create_server((self.host, 0), backlog=128)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=f"tarpit-{self.port}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        until = time.monotonic() + self.hold_s
        while not self._stop.is_set() and time.monotonic() < until:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            self._conns.append(conn)  # held open, never read, never answered
            self.accepted += 1
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
        with contextlib.suppress(OSError):
            self._sock.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
