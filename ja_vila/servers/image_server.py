"""A loopback HTTP image server for tests, the demo and benchmarks (nothing leaves 127.0.0.1).

Start it as a context manager; every request is counted per path (without the query) in
``server.hits``, so tests can assert how often something was fetched::

    with ImageServer() as server:
        url = server.url("/img/cat.jpg?w=320&h=240")
        ...
        assert server.hits["/img/cat.jpg"] == 1

Routes (``{name}`` is any file stem, ``{ext}`` one of jpg, jpeg, png, webp):

=======================================  =====================================================================
``/img/{name}.{ext}?w=W&h=H``            ``make_image(name, W, H, fmt)`` (default 640x480), right Content-Type
``/private/{name}.{ext}``                an image too, but the default robots.txt disallows ``/private/``
``/robots.txt``                          ``robots_txt`` given to the server (default: disallow ``/private/``
                                         for every agent); 404 when ``robots_txt=None``
``/bad/status/{code}/{rest}``            answers HTTP ``code`` (404, 403, 500, ...) with a short text body
``/bad/flaky/{code}/{name}.{ext}``       the first ``n`` requests for this exact path + query (``?n=2``,
                                         default 1) answer ``code``, with ``Retry-After`` when
                                         ``retry_after=S`` (seconds) or ``retry_after=date`` (an HTTP date
                                         ``delay`` seconds ahead, default 1); later requests get the image.
                                         Counters are per server instance.
``/bad/slow/{name}.{ext}``               full headers, then the body dripped ``chunk`` bytes (default 64)
                                         every ``delay`` seconds (default 0.2)
``/bad/hang/{rest}?seconds=S``           reads the request and never answers: a tarpit (until the server
                                         stops, or for ``S`` seconds, default 600, then closes)
``/bad/drop/{rest}``                     closes the connection without an answer
``/bad/redirect/{n}/{name}.{ext}``       ``n`` redirects (302), then the image
``/bad/redirect-loop/{name}``            302 back and forth forever (``?hop=0`` <-> ``?hop=1``)
``/bad/redirect-to?location=URL``        302 to ``URL`` (e.g. ``http://10.0.0.1/x``, ``http://169.254.169.254/``)
``/bad/html/{name}.jpg``                 an HTML page served as ``image/jpeg``
``/bad/truncated/{name}.jpg``            the first half of a JPEG (Content-Length matches what is sent)
``/bad/bomb.png?side=S``                 a small 1-bit PNG declaring S x S pixels (default 20000): a
                                         decompression bomb of about 50 KB
``/bad/big/{name}.jpg?size=B&length=1``  a JPEG header padded to ``B`` bytes (default 5 MB); ``length=0``
                                         omits Content-Length (body ends when the connection closes)
``/bad/xrobots/{name}.{ext}?tag=noai``   the image with ``X-Robots-Tag: {tag}``
``/bad/overlong/{name}.{ext}``            a body longer than its Content-Length: the image, then (``delay``
                                         seconds later, default 0.2) a whole second 200 response with
                                         another image (``smuggled``, 40x40) on the same kept-alive
                                         connection, waiting to answer the next request sent on it
=======================================  =====================================================================

Query parameters ``w``/``h`` size the image on every route that serves one (the size a page declares
for it); with only one of them the other follows the default 4:3 aspect, as a browser scales an
image whose page declares one side. Stopping the server
ends dripping, hanging and keep-alive connections and joins every handler thread.
"""

from __future__ import annotations

import email.utils
import socket
import struct
import time
import zlib
from collections import Counter
from functools import lru_cache
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from dataset_builders.tiny.synthetic_images import CONTENT_TYPES, EXTENSIONS, make_image
from ja_vila.servers.loopback_server import LoopbackHTTPServer, LoopbackServer

DEFAULT_ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
_REDIRECT_CODES = {301, 302, 303, 307, 308}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@lru_cache(maxsize=4)
def make_png_bomb(side: int = 20000) -> bytes:
    """A valid 1-bit greyscale PNG of ``side`` x ``side`` zeros: tiny on the wire, huge once decoded."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    parts = []
    block = row * 1000
    for start in range(0, side, 1000):
        parts.append(comp.compress(block if start + 1000 <= side else row * (side - start)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", b"".join(parts))
            + _png_chunk(b"IEND", b""))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ja-vila-test-server/0.1"
    server: LoopbackHTTPServer

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        pass

    # -- helpers -------------------------------------------------------------------------------
    def _send(self, code: int, body: bytes, content_type: str = "text/plain", headers: dict | None = None):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _redirect(self, location: str, code: int = 302):
        self._send(code, b"redirect\n", headers={"Location": location})

    def _image(self, stem: str, query: dict, ext: str = "jpg") -> tuple[bytes, str]:
        fmt = EXTENSIONS.get(ext.lower())
        if fmt is None:
            raise LookupError(ext)
        w, h = query.get("w", [None])[0], query.get("h", [None])[0]
        w = int(w) if w else (max(1, round(int(h) * 4 / 3)) if h else 640)
        h = int(h) if h else max(1, round(w * 3 / 4))
        return make_image(stem, w, h, fmt), CONTENT_TYPES[fmt]

    def _serve_image(self, filename: str, query: dict, headers: dict | None = None):
        stem, _, ext = filename.rpartition(".")
        try:
            body, ctype = self._image(stem or filename, query, ext or "jpg")
        except (LookupError, ValueError):
            self._send(404, b"unknown image\n")
            return
        self._send(200, body, ctype, headers)

    def _wait_stopped(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server stops first; True when it stopped."""
        return self.server.owner._stopping.wait(seconds)

    # -- routing -------------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        self.server.owner._count(path)
        segs = [s for s in path.split("/") if s]
        try:
            self._route(path, segs, query)
        except OSError:  # client went away (broken pipe, reset, timeout)
            self.close_connection = True

    def _route(self, path: str, segs: list[str], query: dict):
        owner = self.server.owner
        if path == "/robots.txt":
            if owner.robots_txt is None:
                self._send(404, b"no robots.txt\n")
            else:
                self._send(200, owner.robots_txt.encode(), "text/plain; charset=utf-8")
            return
        if len(segs) == 2 and segs[0] in ("img", "private"):
            self._serve_image(segs[1], query)
            return
        if not segs or segs[0] != "bad" or len(segs) < 2:
            self._send(404, b"not found\n")
            return
        kind, rest = segs[1], segs[2:]
        if kind == "status" and rest:
            code = int(rest[0])
            self._send(code, f"status {code}\n".encode())
        elif kind == "flaky" and len(rest) == 2:
            code, n = int(rest[0]), int(query.get("n", ["1"])[0])
            if owner._bump_flaky(self.path) <= n:
                headers = {}
                ra = query.get("retry_after", [None])[0]
                if ra == "date":
                    delay = float(query.get("delay", ["1"])[0])
                    headers["Retry-After"] = email.utils.formatdate(time.time() + delay, usegmt=True)
                elif ra is not None:
                    headers["Retry-After"] = ra
                self._send(code, f"status {code}\n".encode(), headers=headers)
            else:
                self._serve_image(rest[1], query)
        elif kind == "slow" and rest:
            stem, _, ext = rest[0].rpartition(".")
            body, ctype = self._image(stem, query, ext)
            chunk = int(query.get("chunk", ["64"])[0])
            delay = float(query.get("delay", ["0.2"])[0])
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(0, len(body), chunk):
                self.wfile.write(body[i:i + chunk])
                self.wfile.flush()
                if self._wait_stopped(delay):
                    break
            self.close_connection = True
        elif kind == "hang":
            self._wait_stopped(float(query.get("seconds", ["600"])[0]))
            self.close_connection = True
        elif kind == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "redirect" and len(rest) == 2:
            n = int(rest[0])
            if n <= 0:
                self._serve_image(rest[1], query)
            else:
                q = ("?" + urlsplit(self.path).query) if urlsplit(self.path).query else ""
                self._redirect(f"/bad/redirect/{n - 1}/{rest[1]}{q}")
        elif kind == "redirect-loop":
            name = rest[0] if rest else "loop"
            hop = query.get("hop", ["0"])[0]
            self._redirect(f"/bad/redirect-loop/{name}?hop={1 if hop == '0' else 0}")
        elif kind == "redirect-to":
            self._redirect(query.get("location", ["/"])[0], int(query.get("code", ["302"])[0]))
        elif kind == "html":
            body = b"<!DOCTYPE html><html><head><title>not an image</title></head><body>hi</body></html>\n"
            self._send(200, body, "image/jpeg")
        elif kind == "truncated" and rest:
            stem = rest[0].rpartition(".")[0] or rest[0]
            body, ctype = self._image(stem, query, "jpg")
            self._send(200, body[: len(body) // 2], ctype)
        elif kind == "bomb.png":
            self._send(200, make_png_bomb(int(query.get("side", ["20000"])[0])), "image/png")
        elif kind == "big":
            size = int(query.get("size", [str(5 * 1024 * 1024)])[0])
            with_length = query.get("length", ["1"])[0] != "0"
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            if with_length:
                self.send_header("Content-Length", str(size))
            else:
                self.send_header("Connection", "close")
            self.end_headers()
            head = b"\xff\xd8\xff\xe0" + b"\x00" * 60
            self.wfile.write(head)
            sent, block = len(head), b"\x00" * 65536
            while sent < size and not owner._stopping.is_set():
                n = min(len(block), size - sent)
                self.wfile.write(block[:n])
                sent += n
            self.close_connection = True
        elif kind == "xrobots" and rest:
            tag = query.get("tag", ["noai"])[0]
            self._serve_image(rest[0], query, headers={"X-Robots-Tag": tag})
        elif kind == "overlong" and rest:
            self._serve_image(rest[0], query)
            self.wfile.flush()
            if not self._wait_stopped(float(query.get("delay", ["0.2"])[0])):
                extra = make_image("smuggled", 40, 40, "JPEG")
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
                                 + f"Content-Length: {len(extra)}\r\n\r\n".encode() + extra)
                self.wfile.flush()
        else:
            self._send(404, b"unknown route\n")


class ImageServer(LoopbackServer):
    """A threaded HTTP server on ``host`` (default 127.0.0.1, free port) serving synthetic images.

    Use as a context manager or call :meth:`start` / :meth:`stop`. All state (hit counters, "fail N
    times" counters) belongs to this instance.
    """

    handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, robots_txt: str | None = DEFAULT_ROBOTS_TXT):
        super().__init__(host, port)
        self.robots_txt = robots_txt
        self.hits: Counter[str] = Counter()
        self.connections = 0
        self._flaky: Counter[str] = Counter()

    # -- bookkeeping used by the handler ---------------------------------------------------------
    def _count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def _bump_flaky(self, key: str) -> int:
        with self._lock:
            self._flaky[key] += 1
            return self._flaky[key]

    def _track(self, sock: socket.socket, add: bool) -> None:
        super()._track(sock, add)
        if add:
            with self._lock:
                self.connections += 1
