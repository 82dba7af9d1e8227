"""Hostile servers: a host that accepts and never answers cannot stretch a URL past its deadline or
hold back documents whose images are done."""

from __future__ import annotations

from datatrove.data import Document, Media, MediaType

from dataset_builders.download import DownloadConfig, ImageDownloader
from dataset_builders.download.step import DownloadImages
from dataset_builders.pipeline.document_store import SaveDocuments, read_documents
from ja_vila.servers.image_server import ImageServer

LOOPBACK = ("127.0.0.1/32",)


def tarpit_config(**kw) -> DownloadConfig:
    """Requests never time out on their own: only the URL deadline can end a tarpit URL."""
    base = dict(allow_networks=LOOPBACK, static_hosts={"tarpit.test": "127.0.0.1", "good.test": "127.0.0.1"},
                connect_timeout=5.0, read_timeout=120.0, request_timeout=120.0, url_deadline=1.0, max_retries=0,
                per_domain_rate=0, per_domain_concurrency=2, flush_every=8)
    base.update(kw)
    return DownloadConfig(**base)


def test_deadline_covers_the_wait_for_a_domain_slot(image_server):
    with ImageServer() as tarpit:
        hang = [f"http://tarpit.test:{tarpit.port}/bad/hang/{i}?seconds=60" for i in range(20)]
        good = [f"http://good.test:{image_server.port}/img/g{i}.jpg" for i in range(3)]
        results = ImageDownloader(tarpit_config()).download(hang + good)
    assert {u: results[u].status for u in good} == dict.fromkeys(good, "ok")
    # 2 URLs hold the tarpit's slots; the 18 waiting behind them end at their own deadline, not 9 rounds later
    assert {u: results[u].status for u in hang} == dict.fromkeys(hang, "deadline")


def _doc(i: int, urls: list[str]) -> Document:
    media = [Media(id=f"m{i}-{k}", type=MediaType.IMAGE, url=u, alt="画像") for k, u in enumerate(urls)]
    return Document(text=f"文書{i}", id=f"d{i}", media=media)


def test_a_tarpit_host_never_holds_back_finished_documents(image_server, tmp_path):
    with ImageServer() as tarpit:
        docs = [_doc(i, [f"http://tarpit.test:{tarpit.port}/bad/hang/{i}-{k}?seconds=60" for k in range(6)])
                for i in range(10)]  # 60 tarpit URLs first ...
        docs += [_doc(10 + i, [f"http://good.test:{image_server.port}/img/g{i}.jpg"]) for i in range(5)]  # ... 5 good
        step = DownloadImages(tmp_path / "dl", tarpit_config(), batch_size=256)
        save = SaveDocuments(tmp_path / "store")
        emitted = [d.id for d in save(step(iter(docs)))]
    # documents leave as their images finish: the good ones before any tarpit one (today: input order)
    assert set(emitted[:5]) == {f"d{i}" for i in range(10, 15)}
    assert sorted(emitted) == sorted(d.id for d in docs)
    stats = {k: v.total for k, v in step.stats.stats.items()}
    assert stats["media_dropped_deadline"] == 60 and stats["media_kept"] == 5
    # the next stage still reads the input order: builds stay deterministic
    assert [d.id for d in read_documents(tmp_path / "store" / "00000.docs.tar")] == [d.id for d in docs]


def test_a_body_longer_than_its_content_length_never_answers_another_url(image_server):
    cfg = DownloadConfig(allow_networks=LOOPBACK, per_domain_concurrency=1, per_domain_rate=0, max_retries=0,
                         read_timeout=5.0, request_timeout=10.0, url_deadline=20.0)
    others = [image_server.url(f"/img/next{i}.jpg?w=320&h=240") for i in range(3)]
    results = ImageDownloader(cfg).download([image_server.url("/bad/overlong/first.jpg?w=300&h=200"), *others])
    # one domain slot: the next URLs go over the connection the overlong answer was sent on (when reused)
    assert [(results[u].status, results[u].original_width, results[u].original_height) for u in others] == \
        [("ok", 320, 240)] * 3


def test_hosts_the_idna_codec_refuses_are_bad_urls():
    urls = ["http://" + "a" * 64 + ".example/x.jpg", "http://.example/x.jpg", "http://例え..jp/x.jpg",
            "http://\udcff.jp/x.jpg"]
    results = ImageDownloader(DownloadConfig(respect_robots=False)).download(urls)
    assert {u: results[u].status for u in urls} == dict.fromkeys(urls, "bad_url")  # today: internal_error


def test_the_allow_list_is_by_address_and_port(image_server):
    with ImageServer() as other:  # the same address, another port
        allowed, refused = image_server.url("/img/ok.jpg"), other.url("/img/ok.jpg")
        cfg = DownloadConfig(allow_networks=(f"127.0.0.1/32:{image_server.port}",), per_domain_rate=0,
                             url_deadline=20.0)
        results = ImageDownloader(cfg).download([allowed, refused])
        assert other.hits["/img/ok.jpg"] == 0 and other.hits["/robots.txt"] == 0  # nothing reached it
    assert (results[allowed].status, results[refused].status) == ("ok", "ssrf_blocked")
    # entries without a port keep meaning every port (existing configs); IPv6 takes brackets
    assert DownloadConfig(allow_networks=("127.0.0.1/32", "[::1]/128:8080,8443", "10.0.0.0/8:80")).allow_networks
