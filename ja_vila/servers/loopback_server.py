"""The part every loopback test server shares: a threaded HTTP server on 127.0.0.1 that starts in a
background thread, tracks its open connections, and stops cleanly — cutting hanging or dripping
responses and joining every thread — so a test never leaves anything running.

Subclasses give the request handler (``handler_class``) and their own state.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    request_queue_size = 1024
    allow_reuse_address = True
    daemon_threads = False
    block_on_close = True  # server_close() joins every handler thread

    def __init__(self, addr, handler, owner: LoopbackServer):
        self.owner = owner
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        self.owner._track(request, True)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address):
        """Clients that hang up (resets, broken pipes) are normal here; anything else is printed."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def shutdown_request(self, request):
        self.owner._track(request, False)
        super().shutdown_request(request)


class LoopbackServer:
    """Base class: ``with Server() as s: s.url("/path")``; handlers reach the server as ``self.server.owner``."""

    handler_class: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is None:
            self._stopping.clear()
            self._server = LoopbackHTTPServer((self.host, self.port), self.handler_class, self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{type(self).__name__}-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections (hanging, dripping, keep-alive) and join every thread."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            open_socks = list(self._open)
        for s in open_socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._open.add(sock)
            else:
                self._open.discard(sock)
