"""The demo's embedded mini-crawl: the sample documents rendered as web pages in one ``.warc.gz``.

``build_mini_crawl(out_dir, image_base_url)`` writes ``out_dir/sample-mini-crawl.warc.gz``: a
warcinfo record, then for each document of ``documents.jsonl`` a request and a response record for
``https://sample.ja-vila.invalid/<slug>.html`` (plus a ``robots.txt`` response that readers must
skip). Pages look like a small blog: head, navigation, sidebar and footer boilerplate, a site logo, a
share button, a 1×1 ``data:`` pixel, and a campaign image linked at the end of every Japanese article
(inside the article, so only the corpus-wide rules can tell it is repeated: its alt is the pairs
builder's frequent alt; the interleaved builder drops it as a teaser of the campaign page). Image URLs
point at the loopback image server (``{image_base_url}/img/{name}.{ext}?w=W&h=H``), written in the
forms real pages use: absolute ``src``, ``<figure>``, lazy ``data-src`` behind a ``data:`` placeholder
(with a ``<noscript>`` copy), ``srcset``, and, on the one page with a ``<base href>``, relative and
root-relative URLs. One page is Shift_JIS-encoded (declared in HTTP and meta), one declares
``<meta charset="EUC-JP">`` over UTF-8 bytes. Output is byte-for-byte deterministic.

``expected_images(doc, image_base_url)`` says, from the sample data alone, which ``(url, alt)`` the
extractor must keep on a page, in page order: URL rules (png/jpg/jpeg/gif/webp), declared sizes
against the size rule, page chrome out.
"""

from __future__ import annotations

import html
import io
import uuid
from pathlib import Path
from urllib.parse import urljoin

from dataset_builders.atomic import atomic_open
from dataset_builders.tiny.sample import load_documents

SITE = "https://sample.ja-vila.invalid"
WARC_NAME = "sample-mini-crawl.warc.gz"
_UUID_NS = uuid.UUID("6f1c2b1e-8d2a-4f47-9a43-1d3c6b5a7e90")
_PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
_DATE = "2024-11-01T09:{:02d}:{:02d}Z"

BANNER = {"name": "summer_campaign", "alt": "夏の旅キャンペーン実施中", "w": 600, "h": 400, "ext": "jpg"}
_CHROME = {
    "ja": {"site": "日々のたより", "nav": ["ホーム", "旅行", "料理", "季節", "暮らし", "お問い合わせ"],
           "popular": "人気の記事", "share": "この記事をシェアする", "footer": "掲載内容の無断転載を禁じます。"},
    "en": {"site": "Daily Notes", "nav": ["Home", "Travel", "Food", "About", "Contact"],
           "popular": "Popular posts", "share": "Share this post", "footer": "All rights reserved."},
    "zh": {"site": "日常随笔", "nav": ["首页", "旅游", "美食", "关于我们", "联系我们"],
           "popular": "热门文章", "share": "分享本文", "footer": "版权所有，禁止转载。"},
}


def page_url(doc: dict) -> str:
    """The URL a sample document is crawled from."""
    return f"{SITE}/{doc['slug']}.html"


def page_urls() -> list[str]:
    """Page URLs of all sample documents, in file order."""
    return [page_url(d) for d in load_documents()]


def image_url(image_base_url: str, name: str, ext: str, w: int, h: int) -> str:
    """Absolute URL of a generated image on the loopback server."""
    return f"{image_base_url.rstrip('/')}/img/{name}.{ext}?w={w}&h={h}"


def _e(s: str) -> str:
    return html.escape(s, quote=True)


def _img_html(im: dict, base: str) -> str:
    name, ext, w, h, alt = im["name"], im.get("ext", "jpg"), im["w"], im["h"], im.get("alt", "")
    markup = im.get("markup", "src")
    full = image_url(base, name, ext, w, h)
    size = f'width="{w}" height="{h}"'
    if markup == "figure":
        return (f'<figure class="wp-block-image"><img src="{_e(full)}" alt="{_e(alt)}" {size} loading="lazy">'
                f"<figcaption>{_e(alt)}</figcaption></figure>")
    if markup == "lazy":
        return (f'<p><img class="lazyload" src="{_PIXEL}" data-src="{_e(full)}" alt="{_e(alt)}" {size}>'
                f'<noscript><img src="{_e(full)}" alt="{_e(alt)}"></noscript></p>')
    if markup == "srcset":
        small = image_url(base, name, ext, w // 2, h // 2)
        srcset = f"{small} {w // 2}w, {full} {w}w"
        return (f'<p class="photo"><img src="{_e(small)}" srcset="{_e(srcset)}" '
                f'sizes="(max-width: 600px) 100vw, 800px" alt="{_e(alt)}"></p>')
    if markup == "relative":
        return f'<p><img src="{_e(f"img/{name}.{ext}?w={w}&h={h}")}" alt="{_e(alt)}"></p>'
    if markup == "root_relative":
        return f'<p><img src="{_e(f"/img/{name}.{ext}?w={w}&h={h}")}" alt="{_e(alt)}"></p>'
    return f'<p class="photo"><img src="{_e(full)}" alt="{_e(alt)}" {size}></p>'


def render_page(doc: dict, image_base_url: str) -> str:
    """The HTML page of one sample document (a small blog page around the article)."""
    lang = doc.get("lang", "ja")
    c = _CHROME.get(lang, _CHROME["en"])
    base = image_base_url.rstrip("/")
    charset = doc.get("meta_charset") or {"shift_jis": "Shift_JIS"}.get(doc.get("encoding", ""), "utf-8")
    head = [f'<meta charset="{charset}">', f"<title>{_e(doc['title'])} | {_e(c['site'])}</title>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="stylesheet" href="/static/site.css">']
    if doc.get("base_href"):
        head.append(f'<base href="{_e(base)}/">')
    nav = "".join(f'<li><a href="/{i}/">{_e(t)}</a></li>' for i, t in enumerate(c["nav"]))
    body = []
    for block in doc["blocks"]:
        if "p" in block:
            body.append(f"<p>{_e(block['p'])}</p>")
        else:
            body.append(_img_html(block["img"], base))
    banner = ""
    if lang == "ja":
        b = BANNER
        banner = (f'<p class="campaign"><a href="/campaign/"><img src="{_e(image_url(base, b["name"], b["ext"], b["w"], b["h"]))}"'
                  f' alt="{_e(b["alt"])}"></a></p>')
    popular = "".join(f'<li><a href="/{d["slug"]}.html">{_e(d["title"])}</a></li>'
                      for d in load_documents() if d.get("lang") == lang and d["slug"] != doc["slug"])
    return "\n".join([
        "<!DOCTYPE html>", f'<html lang="{lang}">', "<head>", *head, "</head>", "<body>",
        f'<header class="site-header"><a href="/" class="brand"><img src="{_e(base)}/img/site_logo.png?w=240&amp;h=60"'
        f' alt="{_e(c["site"])}"></a>',
        f'<nav class="global-nav"><ul>{nav}</ul></nav></header>',
        '<div class="container"><main id="main"><article class="post">',
        f"<h1>{_e(doc['title'])}</h1>",
        f'<p class="post-meta"><time datetime="2024-11-01">2024-11-01</time> {_e(doc.get("topic", ""))}</p>',
        '<div class="entry-content">', *body, banner, "</div>",
        f'<div class="share-buttons"><a href="/share?u={doc["slug"]}"><img src="/static/share_button.png" alt="{_e(c["share"])}"></a></div>',
        "</article></main>",
        f'<aside class="sidebar"><h2>{_e(c["popular"])}</h2><ul>{popular}</ul></aside></div>',
        f'<footer class="site-footer"><p>&copy; 2024 {_e(c["site"])} {_e(c["footer"])}</p>'
        f'<img src="{_PIXEL}" alt="" width="1" height="1"></footer>',
        "</body>", "</html>", "",
    ])


def expected_images(doc: dict, image_base_url: str) -> list[tuple[str, str]]:
    """``(url, alt)`` an MMC4-rule extractor must keep on ``doc``'s page, in page order (from the data)."""
    base = image_base_url.rstrip("/")
    out: dict[str, str] = {}
    for block in doc["blocks"]:
        im = block.get("img")
        if not im or im.get("ext", "jpg") not in ("jpg", "jpeg", "png", "gif", "webp"):
            continue
        w, h = im["w"], im["h"]
        declared_fails = min(w, h) < 150 or not 0.5 <= w / h <= 2
        if im.get("markup", "src") in ("src", "figure") and declared_fails:
            continue  # width/height declared below the size rule: dropped before download
        rel = f"img/{im['name']}.{im.get('ext', 'jpg')}?w={im['w']}&h={im['h']}"
        if im.get("markup") == "relative":
            url = urljoin(base + "/", rel)
        elif im.get("markup") == "root_relative":
            url = urljoin(base + "/", "/" + rel)
        else:
            url = image_url(base, im["name"], im.get("ext", "jpg"), im["w"], im["h"])
        if url not in out or (not out[url] and im.get("alt")):
            out[url] = out.get(url) or im.get("alt", "")
    if doc.get("lang", "ja") == "ja":
        b = BANNER
        out.setdefault(image_url(base, b["name"], b["ext"], b["w"], b["h"]), b["alt"])
    return list(out.items())


def _record_id(*parts: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(_UUID_NS, '|'.join(parts))}>"


def build_mini_crawl(out_dir: str | Path, image_base_url: str) -> Path:
    """Write the sample pages as a WARC (atomically) and return its path; same inputs → same bytes."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    docs = load_documents()
    if not docs:
        raise FileNotFoundError("dataset_builders/tiny/sample/documents.jsonl is missing or empty; reinstall ja-vila")
    path = Path(out_dir) / WARC_NAME
    with atomic_open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="WARC/1.1")
        info = writer.create_warcinfo_record(WARC_NAME, {"software": "ja-vila mini_crawl", "format": "WARC File Format 1.1",
                                                         "isPartOf": "ja-vila-sample"})
        info.rec_headers.replace_header("WARC-Date", _DATE.format(0, 0))
        info.rec_headers.replace_header("WARC-Record-ID", _record_id("warcinfo"))
        writer.write_record(info)
        records = [("robots", f"{SITE}/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")]
        for d in docs:
            codec = "cp932" if d.get("encoding") == "shift_jis" else "utf-8"
            ctype = "text/html; charset=Shift_JIS" if codec == "cp932" else "text/html"
            if codec == "utf-8" and not d.get("meta_charset"):
                ctype = "text/html; charset=utf-8"
            records.append((d["slug"], page_url(d), render_page(d, image_base_url).encode(codec), ctype))
        for i, (key, url, body, ctype) in enumerate(records):
            date = _DATE.format(1 + i // 60, i % 60)
            req = StatusAndHeaders(f"GET /{url.split('/', 3)[3]} HTTP/1.1",
                                   [("Host", SITE.split("//")[1]), ("User-Agent", "ja-vila-sample/1.0")],
                                   is_http_request=True)
            rec = writer.create_warc_record(url, "request", http_headers=req, warc_headers_dict={
                "WARC-Date": date, "WARC-Record-ID": _record_id("request", key)})
            writer.write_record(rec)
            http_headers = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                            protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http_headers,
                                            warc_headers_dict={"WARC-Date": date,
                                                               "WARC-Record-ID": _record_id("response", key)})
            writer.write_record(rec)
    return path
