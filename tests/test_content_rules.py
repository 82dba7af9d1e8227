"""Issue 15's extraction rules on small inline pages and texts: each rule fires for its reason and
leaves the look-alike alone."""

from __future__ import annotations

import io

import pytest
from datatrove.data import Document, Media, MediaType
from PIL import Image

from dataset_builders.text.alt_text import CaptionRules, alt_text_drop_reason, normalize_alt
from dataset_builders.text.harmful import DOCUMENT_MATCHING, HarmfulTextChecker, HojiCharMatching
from dataset_builders.text.ja_quality import JapaneseQualityFilter, JapaneseQualityRules, quality_drop_reason
from dataset_builders.text.split_step import split_sentences
from dataset_builders.text.splitter import get_splitter
from dataset_builders.web.boilerplate import LineRules, drop_boilerplate_lines, line_reasons
from dataset_builders.web.chrome import ChromeRules
from dataset_builders.web.html_extract import ExtractRules, extract_page
from dataset_builders.web.image_context import ContentImagesOnly
from dataset_builders.web.image_urls import ImageUrlRules

PAGE = "https://example.jp/news/2024/story.html"
PROSE = "<p>これは記事の本文です。猫が窓辺で昼寝をしていました。</p>"


def page(body: str, title: str = "記事の見出し") -> str:
    return f"<html lang='ja'><head><title>{title}</title></head><body>{body}</body></html>"


def urls(html: str, **kw) -> list[str]:
    return [m.url.rsplit("/", 1)[-1] for m in extract_page(html, PAGE, **kw).images]


# ---------------------------------------------------------------- DOM chrome


def test_chrome_containers_drop_their_text_and_images():
    html = page('<header class="site"><img src="/logo-site.jpg"><a href="/">サイト名</a></header>'
                '<nav><a href="/a">ホーム</a><img src="/menu.jpg"></nav>'
                f'<article><header><h1>見出し</h1><img src="hero.jpg"></header>{PROSE}</article>'
                '<aside><p>サイドの文章がここに入ります。</p><img src="side.jpg"></aside>'
                '<footer><p>会社概要のページです。</p><img src="foot.jpg"></footer>')
    got = extract_page(html, PAGE)
    assert [m.url.rsplit("/", 1)[-1] for m in got.images] == ["hero.jpg"]  # the article's own header stays
    assert got.dropped == {"chrome_header": 1, "chrome_nav": 1, "chrome_sidebar": 1, "chrome_footer": 1}
    assert "猫が窓辺" in got.text and "サイド" not in got.text and "会社概要" not in got.text
    off = extract_page(html, PAGE, content=ExtractRules(chrome=ChromeRules(enabled=False)))
    assert "side.jpg" in [m.url.rsplit("/", 1)[-1] for m in off.images]  # the rule, not the page, removed it


@pytest.mark.parametrize(
    ("attrs", "kind"),
    [
        ('class="related-posts"', "related"),
        ('class="c-sideRanking_list"', "sidebar"),
        ('id="sns-share"', "share"),
        ('class="author-box"', "author"),
        ('class="post-tags"', "tags"),
        ('style="display: none"', "hidden"),
        ('class="tag-economy"', None),  # WordPress taxonomy label, not a box
        ('class="entry-content"', None),
        ('class="headline"', None),  # "head" is no chrome word
    ],
)
def test_class_and_id_words(attrs, kind):
    html = page(f'<article>{PROSE}<div {attrs}><p>箱の中の文章です。</p><img src="box.jpg"></div></article>')
    got = extract_page(html, PAGE)
    if kind is None:
        assert "box.jpg" in [m.url.rsplit("/", 1)[-1] for m in got.images] and "箱の中" in got.text
    else:
        assert got.dropped == {f"chrome_{kind}": 1} and "箱の中" not in got.text


def test_chrome_word_on_a_wrapper_of_the_article_is_not_chrome():
    html = page(f'<div class="side-main"><main><article>{PROSE}<img src="fig.jpg"></article></main></div>')
    got = extract_page(html, PAGE)
    assert "fig.jpg" in [m.url.rsplit("/", 1)[-1] for m in got.images] and "猫が窓辺" in got.text


# ---------------------------------------------------------------- line rules


def _reasons(text: str, title: str = "") -> list:
    return line_reasons(text, LineRules(), title)


def test_link_lists_go_single_links_stay():
    L, R = "\ufdd4", "\ufdd5"
    text = (f"本文の段落です。詳しくは{L}公式サイト{R}をご覧ください。\n"
            f"{L}他の記事の見出しその一{R}\n2024.08.10\n{L}他の記事の見出しその二{R}\n{L}他の記事の見出しその三{R}")
    assert _reasons(text) == [None, "link_list", "link_list", "link_list", "link_list"]
    # a single link line is not a list; the title line is never dropped even as a link
    assert _reasons(f"{L}記事の見出しです{R}\n本文です。", title="記事の見出しです | サイト") == [None, None]


def test_related_sections_consent_bylines_credits_and_ui_labels():
    text = "\n".join([
        "本文の最初の段落です。今日は晴れでした。",
        "ZDNet Japan Staff 2019年04月28日 08時00分",
        "2024-11-01 旅行",
        "2019年3月15日公表",
        "IMAGE COURTESY OF MONOTYPE",
        "このサイトでは、利用状況の把握のためにCookieを使用しています。同意いただけますか。",
        "クッキーを焼いて友人に配りました。",
        "閉じる",
        "【注目の記事】[PR]",
        "ほかの記事の見出し",
        "もう一つの見出し",
        "これは次の本文の段落で、文として終わっています。",
    ])
    assert _reasons(text) == [None, "byline", "byline", None, "credit_line", "consent_notice", None, "ui_label",
                              "related_section", "related_section", "related_section", None]
    cleaned, dropped = drop_boilerplate_lines(text, LineRules())
    assert "クッキーを焼いて" in cleaned and dropped["related_section"] == 3
    assert drop_boilerplate_lines(text, LineRules(enabled=False))[0] == text


def test_code_blocks_stay_whole_or_go_whole():
    html = page(f"<article>{PROSE}<pre>fn main() {{\n    println!(\"こんにちは。\");\n}}\nlet x = 1.</pre>"
                "<p>コードの後の段落です。以上です。</p></article>")
    kept = extract_page(html, PAGE)
    (a, b), = kept.code_spans
    code = kept.text[a:b]
    assert code.startswith("fn main()") and code.rstrip().endswith("let x = 1.")
    sentences, _ = split_sentences(kept.text, get_splitter(), whole=kept.code_spans)
    assert code.strip() in sentences  # one sentence, not cut at 。 or the newlines
    plain, _ = split_sentences(kept.text, get_splitter())
    assert code.strip() not in plain  # without the span the splitter would cut it
    dropped = extract_page(html, PAGE, content=ExtractRules(code_blocks="drop"))
    assert "fn main" not in dropped.text and dropped.dropped_lines["code_block"] == 1
    assert "コードの後" in dropped.text
    with pytest.raises(ValueError, match="code_blocks"):
        ExtractRules(code_blocks="sometimes")


# ---------------------------------------------------------------- images before download


def test_declared_sizes_tracking_pixels_and_placeholders():
    html = page("<article>" + PROSE + "".join([
        '<img src="pixel.jpg" width="1" height="1">',
        '<img src="thumb.jpg" width="120" height="90">',
        '<img src="strip.jpg" width="1200" height="400">',
        '<img src="narrow.jpg" style="width: 100px">',
        '<img src="full.jpg" width="100%">',  # a percentage declares nothing
        '<img src="photo.jpg" width="640" height="480">',
        '<img src="img/noimage.png">',
    ]) + "</article>")
    got = extract_page(html, PAGE)
    assert [m.url.rsplit("/", 1)[-1] for m in got.images] == ["full.jpg", "photo.jpg"]
    assert got.dropped == {"tracking_pixel": 1, "declared_too_small": 2, "declared_bad_aspect": 1, "placeholder": 1}


def test_url_path_words_for_ads_and_banners():
    html = page("<article>" + PROSE + '<img src="/images/ad/promo_300x250.jpg"><img src="/upimg/banner/p1.jpg">'
                '<img src="/bnr_imagedb_550.png"><img src="/head/photo.jpg"><img src="/download/adventure.jpg">'
                "</article>")
    got = extract_page(html, PAGE)
    assert [m.url.rsplit("/", 1)[-1] for m in got.images] == ["photo.jpg", "adventure.jpg"]  # whole words only
    assert got.dropped == {"url_token": 3}
    assert ImageUrlRules(banned_tokens=()).check("https://x.jp/images/ad/a.jpg") is None


def test_teaser_links_are_marked_and_the_interleaved_builder_drops_them():
    html = page("<article>" + PROSE +
                '<a href="/news/2024/other.html"><img src="teaser.jpg" alt="写真"></a>'
                '<a href="/news/2024/other.html">別の記事の見出しがここに入る</a>'
                '<a href="/img/big.jpg"><img src="zoom.jpg"></a>'
                '<a href="story.html?page=2"><img src="same.jpg"></a>'
                '<a href="/shop/item"><img src="code.jpg"></a><a href="/shop/item">MA-IRFP139BK</a>'
                "</article>")
    got = {m.url.rsplit("/", 1)[-1]: m for m in extract_page(html, PAGE).images}
    assert got["teaser.jpg"].metadata["teaser"] and got["teaser.jpg"].metadata["link_text"] == "別の記事の見出しがここに入る"
    for name in ("zoom.jpg", "same.jpg", "code.jpg"):  # image link, same page, product code (not a headline)
        assert "teaser" not in got[name].metadata, name
    doc = Document(text="本文", id="d", media=list(got.values()))
    step = ContentImagesOnly()
    out = list(step.run([doc]))[0]
    assert [m.url.rsplit("/", 1)[-1] for m in out.media] == ["zoom.jpg", "same.jpg", "code.jpg"]
    assert step.stats["media_dropped_teaser"].total == 1


def test_gif_first_frame_is_stored_as_jpeg():
    from dataset_builders.download.transform import prepare_image

    frames = [Image.new("RGB", (200, 160), c) for c in ("red", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = prepare_image(buf.getvalue(), max_side=800, max_pixels=10**8, quality=90)
    img = Image.open(io.BytesIO(out.data))
    assert out.format == "gif" and img.format == "JPEG" and img.size == (200, 160)
    r, g, b = img.convert("RGB").getpixel((100, 80))
    assert r > 200 and b < 60  # the first (red) frame, not the second


# ---------------------------------------------------------------- alt texts


CAPTION = CaptionRules()


@pytest.mark.parametrize(
    ("alt", "link_text", "title", "reason"),
    [
        ("写真・図版", "", "", "generic"),
        ("（クリックして拡大）", "", "", "generic"),
        ("サムネイル写真", "", "", "generic"),
        ("製品詳細へ", "", "", "navigation"),
        ("TOPへ戻る", "", "", "navigation"),
        ("広報関連のお問い合わせ", "", "", "navigation"),
        ("USBハブを内蔵した、コンパクトなキーボードを発売", "USBハブを内蔵した、コンパクトなキーボードを発売 2022.08.10", "", "teaser"),
        ("【特集】近未来！スマートロックの世界", "", "", "teaser"),
        ("あの有名フォント「Helvetica」は生まれ変わった", "", "あの有名フォント「Helvetica」は生まれ変わった | WIRED", "page_title"),
        ("クリエイティブ・コモンズ・ライセンス", "", "", "copyright_ad"),
        ("会見する岸田文雄首相=2022年8月10日、福留庸友撮影", "安倍氏の実弟・岸氏は首相補佐官", "", None),  # a caption
        ("図1 SYN パケットに占めるスキャナーの割合", "", "Masscan と ZMap によるスキャンの違い", None),
    ],
)
def test_caption_rules(alt, link_text, title, reason):
    assert alt_text_drop_reason(alt, caption=CAPTION, link_text=link_text, page_title=title) == reason
    if reason:  # the paper's per-text chain alone keeps it: the caption rule is what drops it
        assert alt_text_drop_reason(alt, link_text=link_text, page_title=title) is None


def test_generic_suffix_is_normalised_before_dedup():
    assert normalize_alt("イオンモバイルが「3年学割」発表 画像") == "イオンモバイルが「3年学割」発表"
    assert normalize_alt("夜景（写真）") == "夜景"
    assert normalize_alt("MA-IRFP139BKの製品画像") == "MA-IRFP139BKの製品画像"  # part of the words
    assert normalize_alt(" 画像 ") == "画像"  # nothing left to keep: the generic rule decides


# ---------------------------------------------------------------- harmful words


def test_harmful_words_match_whole_words_and_need_a_strong_hit():
    c = HarmfulTextChecker()
    hoji = HarmfulTextChecker(matching=HojiCharMatching())
    ordinary = ["NETWAVE MNG6200 デバイス", "SMB プロトコル", "4バンドGSM", "偽のSMSです", "システム音痴の政府",
                "死んだセルに隣接する", "AV・情報機器収納台"]
    for text in ordinary:
        assert c.reason(text) is None, text
        assert hoji.reason(text) is not None, text  # HojiChar's own matching fires on every one
    assert c.reason("AV女優の写真集") == "adult"  # a strong (long) keyword still drops
    assert c.reason("SM と AV") is None and c.hits("SM と AV")["adult"] == (0, 2)  # weak alone


def test_documents_need_a_density_of_hits():
    doc_checker = HarmfulTextChecker(matching=DOCUMENT_MATCHING)
    news = "サイバー犯罪への対策が議論された。" + "行政の取り組みについての説明が続いた。" * 40
    assert doc_checker.reason(news) is None  # one ordinary word in a long article
    dense = "暴力と殺人と拷問と虐殺の話。" * 3
    assert doc_checker.reason(dense) == "violence"


# ---------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ｇ．Ｗ．に旅行した。楽しかった。", ["Ｇ．Ｗ．に旅行した。", "楽しかった。"]),
        ("詳しくはｃｏｎｅｃｏ．ｎｅｔへ。次の文。", ["詳しくはｃｏｎｅｃｏ．ｎｅｔへ。", "次の文。"]),
        ("MVPは打率.450だった。次。", ["MVPは打率.450だった。", "次。"]),
        ("私は「遠い。でもない。」といった。でも違う。", ["私は「遠い。でもない。」といった。", "でも違う。"]),
        ("彼は言った。「行こう。」次に彼女が来た。", ["彼は言った。", "「行こう。」", "次に彼女が来た。"]),
        ("思う（それは「違う。」かもしれない。）！（ほげ。）。では。", ["思う（それは「違う。」かもしれない。）！", "（ほげ。）。", "では。"]),
    ],
)
def test_default_splitter_keeps_brackets_and_full_width_dots(text, expected):
    assert get_splitter().split(text) == expected


# ---------------------------------------------------------------- Japanese document quality


def test_japanese_quality_rules():
    rules = JapaneseQualityRules()
    prose = [f"{i}日目は朝から雨が降っていて、外に出るのをためらった。" for i in range(5)]
    prose += [f"それでも{i}時には晴れてきたので散歩に出かけた。" for i in range(5)]
    assert quality_drop_reason("".join(prose), prose, rules) is None
    names = ["Visual Studio Code", "Kubernetes Operator", "TensorFlow Serving"] * 4
    assert quality_drop_reason(" ".join(names), names, rules) == "low_hiragana"
    menu = ["ホーム", "ニュース", "お問い合わせ", "会社概要"] * 3
    assert quality_drop_reason("".join(menu) + "です", menu, rules) == "short_sentences"
    repeated = ["同じ告知文がここに何度も繰り返し表示されています。"] * 6 + prose[:2]
    assert quality_drop_reason("".join(repeated), repeated, rules) == "repetition"
    # code blocks count for nothing: a Rust listing between two sentences is not low-hiragana prose
    code = "fn main() {\n" + "    let value = compute_something(1);\n" * 5 + "}"
    text = prose[0] + code + prose[1]
    doc = Document(text=text, id="c", metadata={"sentences": [prose[0], code, prose[1]],
                                              "code_spans": [[len(prose[0]), len(prose[0]) + len(code)]]})
    assert JapaneseQualityFilter().filter(doc) is True
    doc.metadata.pop("code_spans")
    assert JapaneseQualityFilter(JapaneseQualityRules(min_hiragana_share=0.5)).filter(doc) == (False, "low_hiragana")


def test_media_helpers_are_plain_media():
    m = Media(id="x", type=MediaType.IMAGE, url="https://x.jp/a.jpg", metadata={"in_main_content": False})
    out = list(ContentImagesOnly().run([Document(text="t", id="d", media=[m])]))[0]
    assert out.media == []


def test_funnel_shows_boilerplate_lines_by_reason(tmp_path):
    import json as _json

    from dataset_builders.pipeline.stats_funnel import funnel_from_stats
    from dataset_builders.web.html_extract import HtmlExtractor

    html = page("<article>" + PROSE + "<p>関連記事</p><p><a href='/a'>別の記事の見出しその一</a></p>"
                "<p><a href='/b'>別の記事の見出しその二</a></p></article><nav><img src='/menu.jpg'></nav>")
    step = HtmlExtractor()
    list(step.run([Document(text=html, id="d", metadata={"url": PAGE, "content_format": "html"})]))
    stats = {k: v.total for k, v in step.stats.stats.items()}
    (tmp_path / "00000.json").write_text(_json.dumps([{"name": step.name, "stats": stats}]), encoding="utf-8")
    stages = {s.name: s for s in funnel_from_stats(tmp_path).stages}
    lines = stages[f"{step.name} (lines)"]
    assert lines.dropped == {"related_section": 3} and lines.input == lines.kept + 3 and lines.kept >= 1
    assert stages[f"{step.name} (images)"].dropped == {"chrome_nav": 1}


def test_configs_record_the_same_way_in_every_process():
    """A resumed build compares its settings with the first run's: no set order may leak into them."""
    import subprocess
    import sys

    code = ("import dataclasses, json; from dataset_builders.pairs.build import PairsConfig; "
            "from dataset_builders.interleaved.build import InterleavedConfig; "
            "print(json.dumps([dataclasses.asdict(c) for c in (PairsConfig(), InterleavedConfig())], default=str))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                           env={**__import__("os").environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(outs) == 1
