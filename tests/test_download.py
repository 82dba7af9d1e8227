"""The image downloader against the loopback image server: every failure mode ends with the right
status, the SSRF guard refuses private addresses before connecting, politeness rules hold, and a run
killed at random points resumes to exactly the result of an uninterrupted run."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import random
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
from datatrove.data import Document, Media, MediaType
from PIL import Image

from dataset_builders.download import DownloadConfig, ImageDownloader, blocked_reason, frequent_domains
from dataset_builders.download.fetcher import Fetcher, parse_retry_after
from dataset_builders.download.rate_limit import DomainLimiter, interleave_by_domain
from dataset_builders.download.result import DownloadResult, is_retryable
from dataset_builders.download.robots import x_robots_forbids
from dataset_builders.download.status_log import LOG_NAME, StatusStore
from dataset_builders.download.step import DownloadImages
from dataset_builders.pipeline.document_store import INPUT_POSITION
from ja_vila.servers.image_server import make_png_bomb
from tests.process_helpers import grows_by, run_until

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = ("127.0.0.1/32",)


def fast_config(**kw) -> DownloadConfig:
    """Small timeouts so failure modes end quickly; the loopback server is allowed."""
    base = dict(allow_networks=LOOPBACK, connect_timeout=1.0, read_timeout=0.5, request_timeout=1.5,
                url_deadline=5.0, max_retries=1, backoff_base=0.05, backoff_max=0.2, max_retry_after=3.0,
                per_domain_rate=0, per_domain_concurrency=16, max_bytes=1_000_000, flush_every=8)
    base.update(kw)
    return DownloadConfig(**base)


def leftover_threads() -> list[str]:
    """Threads the downloader could leave behind (decode pool, asyncio executors)."""
    return [t.name for t in threading.enumerate() if t.name.startswith(("ja-vila", "asyncio"))]


# ---------------------------------------------------------------------------------------------
# 1. every failure mode, one run
# ---------------------------------------------------------------------------------------------

CASES = {  # path -> expected status
    "/img/good.jpg": "ok",
    "/img/good.png": "ok",
    "/img/good.webp": "ok",
    "/img/large.jpg?w=1600&h=1200": "ok",
    "/bad/slow/drip.jpg?chunk=64&delay=0.2": "timeout",
    "/bad/hang/forever": "timeout",
    "/bad/status/404/missing.jpg": "http_404",
    "/bad/flaky/429/limited.jpg?n=1&retry_after=1": "ok",
    "/bad/flaky/500/flaky.jpg?n=1": "ok",
    "/bad/flaky/500/broken.jpg?n=99": "http_500",
    "/bad/redirect-loop/loop": "too_many_redirects",
    "/bad/redirect/2/moved.jpg": "ok",
    "/bad/redirect-to?location=http://10.0.0.1/x": "ssrf_blocked",
    "/bad/redirect-to?location=http://169.254.169.254/latest/meta-data/": "ssrf_blocked",
    "/bad/redirect-to?location=file:///etc/passwd": "bad_url",
    "/bad/html/page.jpg": "not_an_image",
    "/bad/truncated/cut.jpg": "undecodable",
    "/bad/bomb.png": "too_many_pixels",
    "/bad/big/huge.jpg?size=5000000": "too_large",
    "/bad/big/huge2.jpg?size=5000000&length=0": "too_large",
    "/private/secret.jpg": "robots_disallowed",
    "/bad/xrobots/optout.jpg?tag=noai": "x_robots_noai",
    "/bad/xrobots/optout2.jpg?tag=noimageai": "x_robots_noai",
    "/bad/xrobots/other.jpg?tag=otherbot:%20noai": "ok",
}


def test_every_failure_mode_ends_with_its_status(image_server, tmp_path):
    urls = {image_server.url(p): want for p, want in CASES.items()}
    make_png_bomb(20000)  # cached (same key as the server's call): building it can outlast the 0.5 s read timeout

    async def run():
        dl = ImageDownloader(fast_config(), work_dir=tmp_path / "rank0")
        async with dl:
            res = await dl.fetch_many(list(urls))
        dl.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return res, others

    results, leftover_tasks = asyncio.run(run())  # a hang would stop here: each URL has a deadline
    assert leftover_tasks == []
    assert leftover_threads() == []

    got = {u[len(image_server.base_url):]: r.status for u, r in results.items()}
    assert got == CASES
    by_path = {u[len(image_server.base_url):]: r for u, r in results.items()}
    # what was stored, and the metadata it carries
    good = by_path["/img/good.png"]
    assert good.format == "png" and Image.open(io.BytesIO(good.image)).format == "JPEG"
    assert (good.width, good.height, good.original_width, good.original_height) == (640, 480, 640, 480)
    assert by_path["/img/good.webp"].format == "webp"
    large = by_path["/img/large.jpg?w=1600&h=1200"]
    assert (large.width, large.height, large.original_width, large.original_height) == (800, 600, 1600, 1200)
    assert Image.open(io.BytesIO(large.image)).size == (800, 600)
    assert large.metadata()["original_width"] == 1600
    # retries: transient failures retried, permanent ones not; robots.txt fetched once
    assert by_path["/bad/flaky/500/flaky.jpg?n=1"].attempts == 2
    assert image_server.hits["/bad/flaky/500/broken.jpg"] == 2  # 1 + max_retries
    assert image_server.hits["/bad/status/404/missing.jpg"] == 1
    assert image_server.hits["/robots.txt"] == 1
    assert image_server.hits["/private/secret.jpg"] == 0  # disallowed: never requested
    assert image_server.hits["/bad/redirect-loop/loop"] == 6  # first request + max_redirects hops
    # every status persisted
    lines = [json.loads(x) for x in (tmp_path / "rank0" / LOG_NAME).read_text().splitlines()]
    assert {rec["url"]: rec["status"] for rec in lines} == {u: want for u, want in urls.items()}


@pytest.fixture
def waits(monkeypatch) -> list[tuple[float | None, float]]:
    """(Retry-After asked by the server, wait chosen) for every retry the fetcher schedules."""
    seen: list[tuple[float | None, float]] = []
    real = Fetcher.backoff

    def spy(self, attempt, retry_after):
        wait = real(self, attempt, retry_after)
        seen.append((retry_after, wait))
        return wait

    monkeypatch.setattr(Fetcher, "backoff", spy)
    return seen


def test_retry_after_is_honoured(image_server, waits):
    cfg = fast_config(max_retry_after=5.0, url_deadline=8.0)
    dl = ImageDownloader(cfg)
    t0 = time.monotonic()
    res = dl.download([image_server.url("/bad/flaky/429/a.jpg?n=1&retry_after=1")])
    waited = time.monotonic() - t0
    assert next(iter(res.values())).status == "ok"
    assert waits == [(1.0, 1.0)]
    assert waited >= 1.0  # the server asked for 1 s; backoff alone would be 0.05 s

    waits.clear()  # HTTP-date form, ~2 s ahead (1 s resolution)
    res = dl.download([image_server.url("/bad/flaky/503/b.jpg?n=1&retry_after=date&delay=2")])
    assert next(iter(res.values())).status == "ok"
    ((asked, wait),) = waits
    assert 0.9 <= asked <= 2.1 and wait == asked

    # a Retry-After above max_retry_after is capped: the wait is the cap, not the hour asked for
    waits.clear()
    capped = ImageDownloader(fast_config(max_retry_after=0.2))
    res = capped.download([image_server.url("/bad/flaky/429/c.jpg?n=1&retry_after=3600")])
    assert next(iter(res.values())).status == "ok"
    assert waits == [(3600.0, 0.2)] and image_server.hits["/bad/flaky/429/c.jpg"] == 2

    # a wait that does not fit the URL's deadline ends with the server's status, not a hang: no second request
    short = ImageDownloader(fast_config(max_retry_after=60, url_deadline=1.0))
    res = short.download([image_server.url("/bad/flaky/429/d.jpg?n=1&retry_after=30")])
    result = next(iter(res.values()))
    assert result.status == "http_429" and "no time left" in result.error
    assert image_server.hits["/bad/flaky/429/d.jpg"] == 1


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert 9 <= parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) <= 10


# ---------------------------------------------------------------------------------------------
# 2. SSRF guard
# ---------------------------------------------------------------------------------------------

def test_private_addresses_refused_before_any_connection(image_server, monkeypatch):
    connects = []
    real = asyncio.base_events.BaseEventLoop.create_connection

    async def counting(self, *args, **kwargs):
        connects.append((args, kwargs.get("host")))
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", counting)
    port = image_server.port
    cfg = fast_config(allow_networks=(), respect_robots=True, static_hosts={
        "internal.test": ["10.1.2.3"], "metadata.test": ["169.254.169.254"], "loop.test": ["127.0.0.1"],
        "mapped.test": ["::ffff:127.0.0.1"], "v6.test": ["::1"], "mixed.test": ["10.0.0.7", "fd00::1"]})
    urls = [f"http://127.0.0.1:{port}/img/a.jpg", f"http://localhost:{port}/img/b.jpg",
            f"http://[::1]:{port}/img/c.jpg", f"http://[::ffff:127.0.0.1]:{port}/img/d.jpg",
            f"http://2130706433:{port}/img/e.jpg",  # legacy numeric form of 127.0.0.1
            "http://10.0.0.1/x.jpg", "http://10.255.255.254:8080/y.jpg", "http://169.254.169.254/latest/meta-data/",
            f"http://internal.test:{port}/img/f.jpg", "http://metadata.test/", f"http://loop.test:{port}/img/g.jpg",
            f"http://mapped.test:{port}/img/h.jpg", f"http://v6.test:{port}/img/i.jpg", "http://mixed.test/"]
    res = ImageDownloader(cfg).download(urls)
    assert {u: r.status for u, r in res.items()} == dict.fromkeys(urls, "ssrf_blocked")
    assert image_server.connections == 0 and sum(image_server.hits.values()) == 0
    assert connects == []  # not even a socket was opened
    # other schemes are refused too
    res = ImageDownloader(cfg).download(["file:///etc/passwd", "ftp://example.com/a.jpg", "gopher://x/"])
    assert {r.status for r in res.values()} == {"bad_url"}
    assert connects == []


def test_blocked_reason_covers_ipv4_and_ipv6():
    blocked = ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "0.0.0.0",
               "224.0.0.1", "240.0.0.1", "255.255.255.255", "100.64.0.1", "::1", "::", "fe80::1", "fc00::1",
               "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::a9fe:a9fe"]
    public = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
    assert [a for a in blocked if blocked_reason(a) is None] == []
    assert [a for a in public if blocked_reason(a) is not None] == []


# ---------------------------------------------------------------------------------------------
# politeness: robots once per host, frequent domains, per-domain limits
# ---------------------------------------------------------------------------------------------

def test_robots_fetched_once_per_host(image_server):
    port = image_server.port
    cfg = fast_config(static_hosts={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    urls = [f"http://{h}:{port}/img/r{i}.jpg?w=32&h=24" for i in range(20) for h in ("a.test", "b.test")]
    urls += [f"http://a.test:{port}/private/p{i}.jpg" for i in range(5)]
    dl = ImageDownloader(cfg)
    res = dl.download(urls[:30])
    res.update(dl.download(urls[30:]))  # a second batch reuses the cached verdicts
    assert image_server.hits["/robots.txt"] == 2  # a.test and b.test, once each
    assert sum(r.status == "ok" for r in res.values()) == 40
    assert sum(r.status == "robots_disallowed" for r in res.values()) == 5


def test_robots_rules_for_our_agent(image_server):
    image_server.robots_txt = "User-agent: ja-vila\nDisallow: /img/\n\nUser-agent: *\nDisallow:\n"
    res = ImageDownloader(fast_config()).download([image_server.url("/img/x.jpg")])
    assert next(iter(res.values())).status == "robots_disallowed"
    other = ImageDownloader(fast_config(user_agent="otherbot/1.0"))
    assert next(iter(other.download([image_server.url("/img/x.jpg")]).values())).status == "ok"


def test_robots_unreachable_means_disallow(image_server):
    image_server.robots_txt = None  # 404: everything allowed
    assert next(iter(ImageDownloader(fast_config()).download([image_server.url("/img/y.jpg")]).values())).ok
    cfg = fast_config(static_hosts={"down.test": ["127.0.0.1"]})
    port = image_server.port
    # robots.txt on a host that answers 5xx: RFC 9309 says assume complete disallow
    dl = ImageDownloader(cfg)
    dl.robots._fetch = lambda url: _const((503, b""))
    res = dl.download([f"http://down.test:{port}/img/z.jpg"])
    assert next(iter(res.values())).status == "robots_unreachable"
    assert image_server.hits["/img/z.jpg"] == 0


async def _const(value):
    return value


def test_frequent_domains_are_skipped(image_server):
    port = image_server.port
    hosts = {h: ["127.0.0.1"] for h in ("big.test", "s1.test", "s2.test", "s3.test")}
    urls = [f"http://big.test:{port}/img/big{i}.jpg?w=16&h=16" for i in range(12)]
    urls += [f"http://s{k}.test:{port}/img/s{k}_{i}.jpg?w=16&h=16" for k in (1, 2, 3) for i in range(3)]
    cfg = fast_config(static_hosts=hosts, frequent_domain_max_share=0.5, frequent_domain_min_urls=10)
    res = ImageDownloader(cfg).download(urls)
    statuses = {u: r.status for u, r in res.items()}
    assert [s for u, s in statuses.items() if "big.test" in u] == ["frequent_domain"] * 12
    assert [s for u, s in statuses.items() if "big.test" not in u] == ["ok"] * 9
    assert not any(p.startswith("/img/big") for p in image_server.hits)
    # count rule, and order independence of the decision
    assert frequent_domains(urls, None, 3) == {"big.test"}
    assert frequent_domains(list(reversed(urls)), 0.5, None, 10) == {"big.test"}
    assert frequent_domains(urls, 0.5, None, min_urls=1000) == set()
    inter = interleave_by_domain(urls)
    assert sorted(inter) == sorted(urls) and inter[:4] == [urls[0], urls[12], urls[15], urls[18]]


def test_per_domain_rate_limit(image_server):
    cfg = fast_config(per_domain_rate=20.0)
    urls = [image_server.url(f"/img/rate{i}.jpg?w=16&h=16") for i in range(10)]
    t0 = time.monotonic()
    res = ImageDownloader(cfg).download(urls)
    assert all(r.ok for r in res.values())
    assert time.monotonic() - t0 >= 9 / 20 * 0.95  # 10 starts at least 50 ms apart


def test_limiter_caps_global_and_per_domain_concurrency():
    async def peaks(max_concurrency, per_domain, domains):
        lim = DomainLimiter(max_concurrency=max_concurrency, per_domain_concurrency=per_domain, per_domain_rate=0)
        live: dict[str, int] = {}
        peak = {"all": 0}
        per: dict[str, int] = {}

        async def job(dom):
            async with lim.slot(dom):
                live[dom] = live.get(dom, 0) + 1
                per[dom] = max(per.get(dom, 0), live[dom])
                peak["all"] = max(peak["all"], sum(live.values()))
                await asyncio.sleep(0.01)
                live[dom] -= 1

        await asyncio.gather(*(job(d) for d in domains))
        return peak["all"], max(per.values())

    assert asyncio.run(peaks(10, 2, ["a"] * 8 + ["b"] * 8)) == (4, 2)  # per-domain cap
    assert asyncio.run(peaks(3, 5, ["a", "b", "c"] * 6))[0] == 3  # global cap


def test_x_robots_tag_parsing():
    assert x_robots_forbids(["noai"], ("noai", "noimageai"), "ja-vila") == "noai"
    assert x_robots_forbids(["noindex, NoImageAI"], ("noai", "noimageai"), "ja-vila") == "noimageai"
    assert x_robots_forbids(["googlebot: noai"], ("noai",), "ja-vila") is None
    assert x_robots_forbids(["ja-vila: noai"], ("noai",), "ja-vila") == "noai"
    assert x_robots_forbids(["noindex", "nofollow"], ("noai",), "ja-vila") is None


# ---------------------------------------------------------------------------------------------
# persistence: statuses, retry-failed, torn lines, kill + resume
# ---------------------------------------------------------------------------------------------

def test_statuses_persisted_and_retry_failed(image_server, tmp_path):
    work = tmp_path / "rank0"
    urls = [image_server.url("/img/ok.jpg"), image_server.url("/bad/status/404/gone.jpg"),
            image_server.url("/bad/flaky/500/later.jpg?n=2")]
    first = ImageDownloader(fast_config(), work_dir=work)
    res = first.download(urls)
    first.close()
    assert [r.status for r in res.values()] == ["ok", "http_404", "http_500"]
    assert is_retryable("http_500") and not is_retryable("http_404") and is_retryable("timeout")
    hits_before = dict(image_server.hits)

    again = ImageDownloader(fast_config(), work_dir=work)  # resume: nothing is fetched again
    res2 = again.download(urls)
    again.close()
    assert {u: r.status for u, r in res2.items()} == {u: r.status for u, r in res.items()}
    assert res2[urls[0]].image == res[urls[0]].image
    assert dict(image_server.hits) == hits_before

    retry = ImageDownloader(fast_config(retry_failed=True), work_dir=work)  # only retryable failures
    res3 = retry.download(urls)
    retry.close()
    assert [r.status for r in res3.values()] == ["ok", "http_404", "ok"]
    assert image_server.hits["/bad/flaky/500/later.jpg"] == 3
    assert image_server.hits["/bad/status/404/gone.jpg"] == 1
    assert image_server.hits["/img/ok.jpg"] == 1
    assert StatusStore(work).record(urls[2])["status"] == "ok"  # the last line wins


def test_results_record_what_the_download_saw_and_resume_keeps_it(image_server, tmp_path):
    """Provenance of each image: HTTP status, Content-Type, robots decision, X-Robots-Tag, final URL, sha256."""
    import hashlib
    import urllib.request

    paths = ["/img/a.png?w=40&h=30", "/bad/xrobots/n.jpg?tag=noindex", "/bad/redirect/1/m.jpg"]
    urls = [image_server.url(p) for p in paths]
    first = ImageDownloader(fast_config(), work_dir=tmp_path / "rank0")
    res = first.download(urls)
    first.close()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for url in urls:
        r = res[url]
        assert r.ok and r.http_status == 200 and r.robots_txt == "allowed"
        assert r.sha256 == hashlib.sha256(opener.open(url, timeout=10).read()).hexdigest()
        assert {"http_status", "content_type", "robots_txt", "x_robots_tag", "sha256"} <= set(r.metadata())
    assert [res[u].content_type for u in urls] == ["image/png", "image/jpeg", "image/jpeg"]
    assert [res[u].x_robots_tag for u in urls] == [None, "noindex", None]  # not an opt-out: kept, recorded
    assert res[urls[2]].final_url == image_server.url("/bad/redirect/0/m.jpg")
    hits = dict(image_server.hits)
    again = ImageDownloader(fast_config(), work_dir=tmp_path / "rank0")  # resumed from the status log
    res2 = again.download(urls)
    again.close()
    assert dict(image_server.hits) == hits
    assert [res2[u].metadata() for u in urls] == [res[u].metadata() for u in urls]

    image_server.robots_txt = None  # 404: no rules apply
    assert next(iter(ImageDownloader(fast_config()).download([urls[0]]).values())).robots_txt == "no_robots_txt"
    unchecked = ImageDownloader(fast_config(respect_robots=False)).download([urls[0]])
    assert next(iter(unchecked.values())).robots_txt == "not_checked"


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    store = StatusStore(tmp_path)
    img = b"\xff\xd8\xff" + b"x" * 100
    store.add(DownloadResult("http://a/1.jpg", "ok", image=img, width=1, height=1))
    store.add(DownloadResult("http://a/2.jpg", "http_404"))
    store.close()
    with open(tmp_path / LOG_NAME, "a") as f:
        f.write('{"url": "http://a/3.jpg", "sta')  # killed mid-write
    store = StatusStore(tmp_path)
    assert set(store.records()) == {"http://a/1.jpg", "http://a/2.jpg"}
    assert store.get("http://a/1.jpg").image == img
    store.add(DownloadResult("http://a/3.jpg", "timeout"))
    store.close()
    assert StatusStore(tmp_path).record("http://a/3.jpg")["status"] == "timeout"
    # chunks are plain tars; offsets in the log point at the member's bytes
    chunk = next(tmp_path.glob("chunk_*.tar"))
    with tarfile.open(chunk) as tar:
        assert [tar.extractfile(m).read() for m in tar.getmembers()] == [img]


_WORKER = """
import json, logging, sys
from dataset_builders.download import DownloadConfig, ImageDownloader
args = json.load(open(sys.argv[1]))
dl = ImageDownloader(DownloadConfig(**args["config"]), work_dir=args["work_dir"])
dl.download(args["urls"])
dl.close()
"""


def _kill_test_urls(server) -> list[str]:
    port = server.port
    urls = [f"http://{'ab'[i % 2]}.test:{port}/img/k{i}.jpg?w=48&h=32" for i in range(90)]
    urls += [f"http://a.test:{port}/bad/status/404/k{i}.jpg" for i in range(5)]
    urls += [f"http://b.test:{port}/bad/redirect/1/k{i}.png" for i in range(5)]
    return urls


def test_killed_runs_resume_to_the_uninterrupted_result(image_server, tmp_path):
    urls = _kill_test_urls(image_server)
    cfg = fast_config(static_hosts={"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}, per_domain_rate=8.0,
                      per_domain_concurrency=2, flush_every=4, max_side=40)
    fast = dataclasses.replace(cfg, per_domain_rate=0)  # the rate limit only makes the kills land mid-run
    reference = ImageDownloader(fast, work_dir=tmp_path / "reference").download(urls)
    ref = {u: (r.status, r.image) for u, r in reference.items()}
    assert sum(s == "ok" for s, _ in ref.values()) == 95

    work = tmp_path / "killed"
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"config": cfg.to_dict(), "work_dir": str(work), "urls": urls}))
    rng = random.Random(20240601)
    kills, runs = 0, 0
    progress = []
    while kills < 5 and runs < 15:
        runs += 1
        # kill (the whole process group) once this run has made 3-12 new requests to the server
        event = grows_by(lambda: sum(image_server.hits.values()), rng.randint(3, 12))
        with open(tmp_path / f"run{runs}.log", "wb") as log:
            killed, proc = run_until([sys.executable, "-c", _WORKER, str(args)], event, deadline_s=120,
                                     cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
        assert proc.returncode == (-signal.SIGKILL if killed else 0), (tmp_path / f"run{runs}.log").read_text()[-2000:]
        kills += killed
        progress.append(len(StatusStore(work)) if work.exists() else 0)
    assert kills >= 5, f"only {kills} kills landed in {runs} runs (progress {progress})"
    assert progress == sorted(progress) and progress[-1] < len(urls), progress  # kills landed mid-run

    final = ImageDownloader(fast, work_dir=work)
    resumed = final.download(urls)
    final.close()
    assert {u: (r.status, r.image) for u, r in resumed.items()} == ref
    # and the finished state answers everything from disk
    hits = sum(image_server.hits.values())
    again = ImageDownloader(fast, work_dir=work).download(urls)
    assert {u: (r.status, r.image) for u, r in again.items()} == ref
    assert sum(image_server.hits.values()) == hits


# ---------------------------------------------------------------------------------------------
# the datatrove step
# ---------------------------------------------------------------------------------------------

def _docs(server) -> list[Document]:
    def media(i, path):
        return Media(id=f"m{i}", type=MediaType.IMAGE, url=server.url(path), alt=f"alt {i}")

    return [
        Document(text="一つ目", id="d0", media=[media(0, "/img/s0.jpg"), media(1, "/bad/status/404/s1.jpg")]),
        Document(text="二つ目", id="d1", media=[media(2, "/bad/html/s2.jpg")]),
        Document(text="三つ目", id="d2", media=[media(3, "/img/s3.png?w=1000&h=500"), media(4, "/img/s0.jpg"),
                                             media(5, "/private/s5.jpg")]),
        Document(text="四つ目", id="d3", media=[]),
    ]


def test_download_step_fills_media_and_counts_drops(image_server, tmp_path):
    step = DownloadImages(tmp_path / "work", config=fast_config(), batch_size=2)
    out = list(step.run(iter(_docs(image_server)), rank=3))  # in the order their images finished ...
    out.sort(key=lambda d: d.metadata[INPUT_POSITION])  # ... each with its input position (the store sorts by it)
    assert [d.id for d in out] == ["d0", "d1", "d2", "d3"]
    assert [[m.id for m in d.media] for d in out] == [["m0"], [], ["m3", "m4"], []]
    m3 = out[2].media[1 - 1]
    assert Image.open(io.BytesIO(m3.media_bytes)).size == (800, 400)
    assert {k: m3.metadata[k] for k in ("status", "width", "height", "original_width", "original_height",
                                        "format")} == {"status": "ok", "width": 800, "height": 400,
                                                       "original_width": 1000, "original_height": 500,
                                                       "format": "png"}
    stats = {k: v.total for k, v in step.stats.stats.items()}
    assert stats["media_kept"] == 3
    assert stats["media_dropped_http_404"] == 1
    assert stats["media_dropped_not_an_image"] == 1
    assert stats["media_dropped_robots_disallowed"] == 1
    assert (tmp_path / "work" / "rank_00003" / LOG_NAME).exists()
    assert leftover_threads() == []

    hits = sum(image_server.hits.values())  # a resumed task downloads nothing again
    step2 = DownloadImages(tmp_path / "work", config=fast_config(), batch_size=3)
    out2 = sorted(step2.run(iter(_docs(image_server)), rank=3), key=lambda d: d.metadata[INPUT_POSITION])
    assert [[m.media_bytes for m in d.media] for d in out2] == [[m.media_bytes for m in d.media] for d in out]
    assert sum(image_server.hits.values()) == hits


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="allow_networks"):
        DownloadConfig(allow_networks=("localhost",))
    with pytest.raises(ValueError, match="max_concurrency"):
        DownloadConfig(max_concurrency=0)
    with pytest.raises(ValueError, match="unknown DownloadConfig keys"):
        DownloadConfig.from_dict({"max_conc": 3})
    cfg = DownloadConfig.from_dict(json.loads(json.dumps(DownloadConfig(allow_networks=["::1/128"]).to_dict())))
    assert cfg.allow_networks == ("::1/128",) and cfg.agent_token == "ja-vila"
