"""The loopback image server and synthetic images that tests, the demo and benchmarks share."""

from __future__ import annotations

import io
import itertools
import threading
import time
import urllib.error
import urllib.request

import imagehash
import pytest
from PIL import Image

from dataset_builders.tiny.synthetic_images import make_image
from ja_vila.servers.image_server import ImageServer

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def get(url: str, timeout: float = 5.0):
    try:
        with _OPENER.open(url, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_make_image_is_deterministic_and_varied():
    assert make_image("cat") == make_image.__wrapped__("cat")
    for fmt, pil in (("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")):
        img = Image.open(io.BytesIO(make_image("cat", 320, 200, fmt)))
        assert (img.format, img.size) == (pil, (320, 200))
    hashes = [imagehash.phash(Image.open(io.BytesIO(make_image(f"n{i}")))) for i in range(12)]
    assert min(a - b for a, b in itertools.combinations(hashes, 2)) >= 10
    with pytest.raises(ValueError, match="unsupported format"):
        make_image("x", fmt="tiff")


def test_routes_and_counters(image_server):
    status, headers, body = get(image_server.url("/img/dog.png?w=64&h=32"))
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert body == make_image("dog", 64, 32, "png")
    assert get(image_server.url("/img/dog.webp"))[1]["Content-Type"] == "image/webp"
    assert get(image_server.url("/bad/status/404/x"))[0] == 404
    assert [get(image_server.url("/bad/flaky/429/f.jpg?n=2&retry_after=3"))[0] for _ in range(3)] == [429, 429, 200]
    assert get(image_server.url("/bad/flaky/429/g.jpg?retry_after=3"))[1]["Retry-After"] == "3"
    status, headers, body = get(image_server.url("/bad/html/h.jpg"))
    assert headers["Content-Type"] == "image/jpeg" and body.startswith(b"<!DOCTYPE html>")
    assert b"Disallow: /private/" in get(image_server.url("/robots.txt"))[2]
    assert get(image_server.url("/bad/xrobots/x.jpg?tag=noimageai"))[1]["X-Robots-Tag"] == "noimageai"
    bomb = Image.open(io.BytesIO(get(image_server.url("/bad/bomb.png?side=9000"))[2]))
    assert bomb.size == (9000, 9000)
    assert get(image_server.url("/bad/redirect/2/r.jpg"))[2] == make_image("r")
    assert image_server.hits["/bad/flaky/429/f.jpg"] == 3 and image_server.hits["/bad/redirect/0/r.jpg"] == 1


def test_counters_are_per_instance():
    with ImageServer() as a, ImageServer() as b:
        assert get(a.url("/bad/flaky/500/x.jpg?n=1"))[0] == 500
        assert get(b.url("/bad/flaky/500/x.jpg?n=1"))[0] == 500  # b has its own counter
        assert get(a.url("/bad/flaky/500/x.jpg?n=1"))[0] == 200
        assert a.hits["/bad/flaky/500/x.jpg"] == 2 and b.hits["/bad/flaky/500/x.jpg"] == 1


def test_stop_ends_hanging_and_dripping_connections():
    before = set(threading.enumerate())
    server = ImageServer().start()
    outcome: dict[str, str] = {}
    paths = ("/bad/hang/x", "/bad/slow/s.jpg?delay=5", "/bad/big/b.jpg?size=100000000&length=0")

    def client(path):
        try:
            _, _, body = get(server.url(path), timeout=60)
            outcome[path] = f"body of {len(body)} bytes"
        except Exception as e:  # the server cut the connection (or, wrongly, the client timed out)
            outcome[path] = type(e).__name__ + str(e)

    clients = [threading.Thread(target=client, args=(p,)) for p in paths]
    for t in clients:
        t.start()
    deadline = time.monotonic() + 60  # stop only once all three requests are being served
    while sum(server.hits[p.split("?")[0]] for p in paths) < 3:
        assert time.monotonic() < deadline, dict(server.hits)
        time.sleep(0.01)
    server.stop()
    for t in clients:
        t.join(timeout=120)
        assert not t.is_alive()
    # every client ended because the server closed its connection, none by its own 60 s timeout
    assert len(outcome) == 3 and not [o for o in outcome.values() if "timed out" in o or "Timeout" in o], outcome
    assert outcome["/bad/big/b.jpg?size=100000000&length=0"] != "body of 100000000 bytes"  # cut short
    assert set(threading.enumerate()) - before == set()


def test_one_declared_side_scales_the_other(image_server):
    sizes = [Image.open(io.BytesIO(get(image_server.url(p))[2])).size
             for p in ("/img/s.jpg?w=300", "/img/s.jpg?h=90", "/img/s.jpg", "/img/s.jpg?w=50&h=400")]
    assert sizes == [(300, 225), (120, 90), (640, 480), (50, 400)]


def test_real_pages_images_are_served_at_their_declared_size(image_server, tmp_path):
    """RedirectImagesToLoopback keeps what the HTML declares, so the size rules see a tracking pixel
    or a 16px icon as they would on the real web; undeclared images get a size from the URL's hash."""
    from datatrove.data import Document

    from dataset_builders.download.config import DownloadConfig
    from dataset_builders.download.step import DownloadImages
    from dataset_builders.image_checks import ImageSizeFilter
    from dataset_builders.web.html_extract import extract_page
    from ja_vila.testing.redirect import SIZES, RedirectImagesToLoopback

    html = ('<html><body><article><p>本文です。</p><img src="/t/pixel.jpg" width="1" height="1">'
            '<img src="/i/mark.png" style="width:16px;height:16px"><img src="/p/photo.jpg" width="300">'
            '<img src="/p/wide.jpg" width="600" height="400"><img src="/p/plain.jpg"></article></body></html>')
    page = extract_page(html, "https://news.example.jp/a.html")
    doc = Document(text=page.text, id="a", media=page.images, metadata={"url": "https://news.example.jp/a.html"})
    steps = [RedirectImagesToLoopback(image_server.base_url),
             DownloadImages(tmp_path, DownloadConfig(allow_networks=("127.0.0.1/32",))), ImageSizeFilter()]
    docs = [doc]
    for step in steps:
        docs = list(step(docs))
    kept = {m.metadata["original_url"].rsplit("/", 1)[1]: (m.metadata["original_width"], m.metadata["original_height"])
            for m in docs[0].media}
    # too small at their declared size: the extractor now drops them before any download
    assert not any(m.url.endswith(("pixel.jpg", "mark.png")) for m in page.images)
    assert "pixel.jpg" not in kept and "mark.png" not in kept
    assert kept["photo.jpg"] == (300, 225) and kept["wide.jpg"] == (600, 400)
    assert kept.get("plain.jpg", SIZES[0]) in SIZES
    stats = {k: v.total for k, v in steps[2].stats.stats.items()}
    assert stats.get("media_dropped_too_small", 0) == 0 and stats["media_kept"] == len(kept)
