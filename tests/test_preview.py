"""`ja-vila preview`: a self-contained, escaped HTML gallery; checked structurally everywhere and
rendered in headless Chromium where it is installed (`.ci/run` installs it and a CJK font)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from ja_vila.cli import app
from model_cards.preview import PreviewError, write_preview
from model_cards.preview.thumbnails import MAX_SIDE
from tests.process_helpers import kill_group, start
from tests.release_helpers import COLORS, DOCUMENTS, MAKERS, NASTY

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
N_IMAGES = {"pairs": 6, "interleaved": sum(len(p) for _, p in DOCUMENTS), "instruct": 3}


class Page(HTMLParser):
    """The parts of the page the tests look at, in document order."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.links: list[str] = []
        self.scripts = 0
        self.csp = None
        self.flow: list[tuple] = []  # per interleaved doc: ("doc", key) / ("sentence", i, text) / ("figure", slot, src)
        self._sentence: int | None = None
        self._figure: int | None = None
        self._text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
            if self._figure is not None:
                self.flow.append(("figure", self._figure, int(a["data-after"]) if "data-after" in a else self._after,
                                  a.get("src", "")))
        elif tag == "a":
            self.links.append(a.get("href", ""))
        elif tag == "script":
            self.scripts += 1
        elif tag == "meta" and a.get("http-equiv") == "Content-Security-Policy":
            self.csp = a.get("content")
        elif tag == "article" and "doc" in (a.get("class") or ""):
            self.flow.append(("doc", a.get("data-key")))
        elif tag == "p" and "data-sentence" in a:
            self._sentence, self._text = int(a["data-sentence"]), []
        elif tag == "figure":
            self._figure, self._after = int(a["data-slot"]), int(a["data-after"])

    def handle_endtag(self, tag):
        if tag == "p" and self._sentence is not None:
            self.flow.append(("sentence", self._sentence, "".join(self._text)))
            self._sentence = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data):
        if self._sentence is not None:
            self._text.append(data)


def decode(src: str) -> Image.Image:
    assert src.startswith("data:image/jpeg;base64,"), src[:40]
    image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
    image.load()
    return image.convert("RGB")


def mean_color(image: Image.Image) -> tuple[float, ...]:
    pixels = list(image.resize((8, 8)).get_flattened_data())
    return tuple(sum(p[c] for p in pixels) / len(pixels) for c in range(3))


def close(a, b, tol: float = 12.0) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, tuple[Path, Path, str]]:
    root = tmp_path_factory.mktemp("preview")
    out = {}
    for kind, make in MAKERS.items():
        folder = make(root / f"ja-{kind}")
        html_path = write_preview(folder, root / f"{kind}.html")
        out[kind] = (folder, html_path, html_path.read_text(encoding="utf-8"))
    return out


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_page_is_self_contained_and_escaped(pages, kind):
    _, _, html = pages[kind]
    page = Page(html)
    assert len(page.images) == N_IMAGES[kind]
    for src in page.images:  # every image embedded, decodable, downscaled
        image = decode(src)
        assert max(image.size) <= MAX_SIDE
    assert page.scripts == 0 and page.csp == CSP  # no script at all, and none could run
    assert NASTY not in html and "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # shown as text, escaped
    assert all(link.startswith(("http://", "https://")) for link in page.links)  # no javascript: links
    assert 'src="http' not in html and "url(" not in html  # nothing fetched from anywhere


JAPANESE_FONTS = '"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", "Meiryo", sans-serif'


def test_page_declares_a_font_stack_that_covers_japanese(pages):
    """The body's one font rule names Japanese fonts of every platform, ending in a generic family."""
    _, _, html = pages["pairs"]
    body = re.search(r"body \{[^}]*\}", html, re.S).group(0)
    assert re.search(r"font: [^;]*" + re.escape(JAPANESE_FONTS) + ";", body)
    assert len(re.findall(r"Noto Sans CJK JP", html)) == 1  # one rule, not repeated per element


def test_interleaved_images_follow_their_assigned_sentence(pages):
    folder, _, html = pages["interleaved"]
    flow = Page(html).flow
    docs: list[list[tuple]] = []
    for item in flow:
        if item[0] == "doc":
            docs.append([])
        else:
            docs[-1].append(item)
    assert len(docs) == len(DOCUMENTS)
    color = 0
    for blocks, (n_sentences, positions) in zip(docs, DOCUMENTS, strict=True):
        sentences = [b for b in blocks if b[0] == "sentence"]
        assert [b[1] for b in sentences] == list(range(n_sentences))
        figures = [(i, b) for i, b in enumerate(blocks) if b[0] == "figure"]
        assert [b[1] for _, b in figures] == list(range(len(positions)))
        for k, (i, fig) in enumerate(figures):
            previous_sentence = next(b for b in reversed(blocks[:i]) if b[0] == "sentence")
            assert previous_sentence[1] == positions[k]  # right after sentence image_positions[k] (or its other images)
            assert all(b[0] == "figure" for b in blocks[blocks.index(previous_sentence) + 1:i])
            assert close(mean_color(decode(fig[3])), COLORS[color % len(COLORS)])  # and it is image k
            color += 1
    first_doc_sentence_1 = next(b for b in docs[0] if b[0] == "sentence" and b[1] == 1)
    assert NASTY in first_doc_sentence_1[2]  # the parser un-escapes: the text survived intact, as text


def test_pairs_show_text_and_scores_and_conversations_keep_turn_order(pages):
    _, _, html = pages["pairs"]
    assert html.count('class="pair"') == 6 and "score 0.500" in html and "clip_a 0.250" in html
    _, _, html = pages["instruct"]
    turns = [html.index(t) for t in ("この画像は何ですか？ 0", "色の画像です。", "ほかには？", "答え0")]
    assert turns == sorted(turns) and "&lt;image&gt;" not in html  # the image marker is shown as a chip


def test_cli_and_errors(tmp_path, pages):
    folder, _, _ = pages["pairs"]
    result = CliRunner().invoke(app, ["preview", str(folder), "--out", str(tmp_path / "p.html"), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert Page((tmp_path / "p.html").read_text(encoding="utf-8")).images.__len__() == 2
    with pytest.raises(PreviewError, match="no stats.json"):
        write_preview(tmp_path, tmp_path / "x.html")
    (tmp_path / "stats.json").write_text(json.dumps({"schema": "video"}), encoding="utf-8")
    with pytest.raises(PreviewError, match="video"):
        write_preview(tmp_path, tmp_path / "x.html")


# -- in a real browser -----------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHECK = """<script>window.addEventListener('load', () => { const imgs = [...document.images];
document.body.setAttribute('data-images', imgs.length);
document.body.setAttribute('data-loaded', imgs.filter(i => i.complete && i.naturalWidth > 0).length); });</script>"""


def chromium(*args: str) -> str:
    """Run headless Chromium in its own session; its stdout. The browser's helper processes go with it."""
    proc = start([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--force-device-scale-factor=1", "--virtual-time-budget=5000", *args],
                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = proc.communicate(timeout=120)
    finally:
        kill_group(proc)
    return out


NO_CHROMIUM = "headless Chromium not installed (apt-get install chromium); the page structure is still checked above"
#: Characters of the fixtures' texts, then two code points no font has a glyph for (U+0378 and U+0379
#: are unassigned): those two must come out as the same "tofu" box, which shows the comparison works.
GLYPHS = ["猫", "の", "写", "真", "文", "書"]
NO_GLYPH = ["&#x378;", "&#x379;"]
CELL = 80


def _ink(cell: Image.Image) -> list[bool]:
    return [p < 128 for p in cell.convert("L").get_flattened_data()]


def _differ(a: list[bool], b: list[bool]) -> float:
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_japanese_text_renders_as_glyphs_not_boxes(pages, tmp_path):
    """With the preview's own stylesheet (its font stack, lang=ja), each Japanese character is drawn
    with its own shape; characters without a font all draw the same box (what missing CJK fonts look like)."""
    _, _, html = pages["pairs"]
    style = html[html.index("<style>"):html.index("</style>") + len("</style>")]
    cells = "".join(f'<span class="cell">{c}</span>' for c in GLYPHS + NO_GLYPH)
    page = tmp_path / "glyphs.html"
    page.write_text(f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8">{style}<style>body {{ margin: 0; '
                    f'background: #fff; }} .cell {{ display: inline-block; width: {CELL}px; height: {CELL}px; '
                    f'font-size: 64px; line-height: {CELL}px; text-align: center; color: #000; overflow: hidden; '
                    f'vertical-align: top; }}</style></head><body>{cells}</body></html>', encoding="utf-8")
    shot = tmp_path / "glyphs.png"
    chromium(f"--window-size={CELL * (len(GLYPHS) + len(NO_GLYPH))},{CELL}", f"--screenshot={shot}", page.as_uri())
    image = Image.open(shot)
    ink = [_ink(image.crop((i * CELL, 0, (i + 1) * CELL, CELL))) for i in range(len(GLYPHS) + len(NO_GLYPH))]
    tofu_a, tofu_b = ink[-2:]
    assert sum(tofu_a) > 0.01 * len(tofu_a) and _differ(tofu_a, tofu_b) < 0.005  # missing glyphs: one box
    for i, glyph in enumerate(GLYPHS):
        assert sum(ink[i]) > 0.02 * len(ink[i]), f"{glyph} drew nothing"
        assert _differ(ink[i], tofu_a) > 0.03, f"{glyph} is drawn as a box: no CJK font (apt-get install fonts-noto-cjk)"
        for j in range(i):
            assert _differ(ink[i], ink[j]) > 0.03, f"{GLYPHS[j]} and {glyph} look the same"


@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_chromium_renders_every_image(pages, kind, tmp_path):
    _, html_path, html = pages[kind]
    # a copy with a checker script (the page itself allows none)
    checked = tmp_path / "checked.html"
    checked.write_text(html.replace(CSP, CSP + "; script-src 'unsafe-inline'").replace("</body>", CHECK + "</body>"),
                       encoding="utf-8")
    dom = chromium("--dump-dom", checked.as_uri())
    assert f'data-images="{N_IMAGES[kind]}"' in dom and f'data-loaded="{N_IMAGES[kind]}"' in dom, dom[-500:]
    # the page as shipped: screenshot holds the fixtures' colours (images drawn, page not blank)
    shot = tmp_path / "shot.png"
    chromium("--window-size=1280,2400", f"--screenshot={shot}", html_path.as_uri())
    image = Image.open(shot).convert("RGB")
    pixels = list(image.resize((320, 600)).get_flattened_data())
    assert len(set(pixels)) > 50  # not blank
    for color in COLORS[:2]:
        assert sum(close(p, color, 20) for p in pixels) > 200, color  # a fixture image is visible
