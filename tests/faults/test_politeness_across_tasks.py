"""Politeness that holds over many tasks (issue 16 item 15): per-domain concurrency and rate are the
build's, not each task's — three tasks downloading at once from one host stay within one task's limits."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dataset_builders.config import load_config
from dataset_builders.pairs.build import PairsConfig
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.tiny.synthetic_images import make_image
from ja_vila.testing.corpus import write_sample_corpus
from ja_vila.testing.front import run_front
from tests.build_helpers import REPO

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"
HOLD_S = 0.3  # every image answer takes this long, so requests of different tasks overlap
CONCURRENCY, RATE = 2, 4.0


class CountingServer(ThreadingHTTPServer):
    """One host; records the start of every image request and the most requests in progress at once.
    A request counts as in progress from its arrival until just before its body is sent: within the time
    the client holds its slot, so the count never exceeds the client's concurrent requests."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.starts: list[float] = []
        self.in_flight = self.max_in_flight = 0


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        server: CountingServer = self.server
        if self.path.startswith("/robots.txt"):
            self.send_error(404)
            return
        with server.lock:
            server.starts.append(time.monotonic())
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        time.sleep(HOLD_S)
        body = make_image(self.path.rsplit("/", 1)[-1].split(".")[0], 320, 240)
        with server.lock:
            server.in_flight -= 1
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def max_starts_in_window(starts: list[float], window: float = 1.0) -> int:
    starts = sorted(starts)
    return max(sum(1 for t in starts[i:] if t < s + window) for i, s in enumerate(starts))


def test_three_tasks_share_one_hosts_concurrency_and_rate(tmp_path):
    server = CountingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        corpus = write_sample_corpus(tmp_path / "corpus", base, files=3)
        web = load_config(PairsConfig, TINY, [f"web.download.per_domain_concurrency={CONCURRENCY}",
                                              f"web.download.per_domain_rate={RATE}"]).web
        run_front([corpus], tmp_path / "work", web, ExecutorConfig(tasks=3, workers=3))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
    assert len(server.starts) >= 30  # every task downloaded from the one host
    assert server.max_in_flight <= CONCURRENCY, f"{server.max_in_flight} requests at once (limit {CONCURRENCY})"
    # starts are 1/RATE apart over all tasks: at most RATE (+1 at the window's edge, +1 for timer jitter) per second
    assert max_starts_in_window(server.starts) <= RATE + 2, f"{max_starts_in_window(server.starts)} starts in 1 s"
