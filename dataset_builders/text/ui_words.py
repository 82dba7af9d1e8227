"""The words of page furniture in Japanese (and the English a Japanese page borrows): one vocabulary
shared by the alt-text rules (pairs) and the main-text line rules (interleaved).

Each list is a small, hand-written vocabulary of *kinds* of text, not of sites: what a button, a menu
entry, a "related articles" heading, an image placeholder word or an ad label says. Matching is on a
whole, normalised short text (NFKC, case folded, brackets and symbols around it removed), so a word
inside a sentence never matches: 「閉じる」 is a button, 「扉を閉じる猫」 is not.
"""

from __future__ import annotations

import re
import unicodedata

#: Texts that only say "this is an image" (alt texts that name no content).
GENERIC_IMAGE_WORDS = frozenset({
    "画像", "写真", "イメージ", "イメージ画像", "イメージ写真", "サムネイル", "サムネイル画像", "サムネイル写真",
    "サムネ", "アイキャッチ", "アイキャッチ画像", "メイン画像", "トップ画像", "記事画像", "画像素材", "写真素材", "図",
    "図版", "写真・図版", "写真図版", "挿絵", "挿画", "イラスト", "クリックして拡大", "クリックで拡大", "拡大",
    "拡大する", "拡大表示", "画像を拡大", "画像拡大", "拡大画像", "拡大写真", "画像をクリックして拡大",
    "全画面表示", "別ウィンドウで開く", "新しいウィンドウで開く", "ポップアップ", "矢印", "アイコン", "ロゴ", "バナー",
    "ボタン", "noimage", "no image", "now loading", "loading", "spacer", "blank", "dummy", "placeholder",
    "image", "images", "photo", "photos", "picture", "pic", "img", "fig", "figure", "thumbnail", "thumb",
    "icon", "logo", "banner", "button", "arrow", "cover", "cover photo", "cover image", "article image",
    "main image", "eyecatch", "eye catch", "screenshot", "スクリーンショット", "スクショ", "キャプチャ",
    "画面キャプチャ", "プロフィール画像", "プロフィール写真", "アバター", "avatar", "profile", "profile image",
})

#: Button, menu and navigation labels (alt texts of menu images, stray UI lines in main text).
NAVIGATION_WORDS = frozenset({
    "トップ", "トップページ", "ホーム", "home", "top", "topへ", "topへ戻る", "トップへ", "トップへ戻る",
    "ページトップ", "ページトップへ", "ページの先頭へ", "ページ先頭へ", "ページの先頭に戻る", "page top", "pagetop",
    "back to top", "戻る", "前へ", "次へ", "前のページ", "次のページ", "前の記事", "次の記事", "一覧", "一覧へ",
    "一覧を見る", "一覧へ戻る", "記事一覧", "もっと見る", "もっと読む", "続きを読む", "続きを見る", "詳しく見る",
    "詳しくはこちら", "詳細", "詳細へ", "詳細はこちら", "詳細を見る", "こちら", "こちらから", "more", "read more",
    "view more", "閉じる", "close", "開く", "open", "メニュー", "menu", "検索", "search", "サイト内検索", "ログイン",
    "login", "ログアウト", "新規登録", "会員登録", "ユーザー登録", "登録", "購入", "購入する", "カートに入れる",
    "カート", "お問い合わせ", "お問合せ", "問い合わせ", "contact", "サイトマップ", "sitemap", "印刷", "print",
    "シェア", "share", "ツイート", "tweet", "いいね", "like", "フォロー", "follow", "ブックマーク", "bookmark",
    "はてなブックマーク", "はてブ", "rss", "rssフィード", "feed", "メルマガ", "メールマガジン", "pdf", "ダウンロード",
    "download", "製品情報", "製品詳細", "製品詳細へ", "製品画像へ", "商品詳細", "商品情報", "サービス", "会社情報",
    "企業情報", "ニュース", "news", "お知らせ", "ブログ", "blog", "カテゴリ", "カテゴリー", "category", "タグ", "tag",
    "tags", "アーカイブ", "archive", "本文へ", "本文へスキップ", "メインコンテンツへスキップ", "skip to main content",
    "skip to content", "skip navigation", "facebook", "twitter", "line", "instagram", "youtube", "pocket", "note",
    "hatena", "google+", "linkedin", "pinterest", "x", "コンテンツへスキップ", "本文へ移動", "メインコンテンツへ移動",
    "メニューをとばして、記事の本文エリアへ", "メニューをとばして本文へ", "comments are closed", "コメントは受け付けていません",
    "記事をもっと見る",
})

#: How a button or menu entry ends (「…へ」「…はこちら」「…の購読申し込み」): counts on short texts only.
UI_ENDING = re.compile(
    r"(?:へ|へ戻る|に戻る|を見る|をみる|を読む|はこちら|こちら|一覧|申し込み|申込み|申込|お問い合わせ|お問合せ|問い合わせ"
    r"|ダウンロード|会員登録|購入する|購読|ログイン|で開く|を開く|を表示|スキップ)$"
)
#: Copyright and licence lines, ad labels.
COPYRIGHT_AD = re.compile(
    r"©|\(c\)\s*\d|copyright|all rights reserved|無断転載|著作権|クリエイティブ・?コモンズ|creative commons|ライセンス$"
    r"|license$|^広告|広告掲載|スポンサー|^\[?pr\]?[\s:：]|【pr】",
    re.IGNORECASE,
)

#: Headings of "more articles" boxes (a line that is only this ends the article body's flow).
RELATED_HEADINGS = re.compile(
    r"^(?:関連(?:する)?(?:記事|ニュース|エントリー?|投稿|リンク|情報|サイト|コンテンツ|商品|製品|トピック)?(?:一覧)?"
    r"|(?:おすすめ|オススメ|お薦め|注目|人気)(?:の)?(?:記事|ニュース|特集|情報|商品|エントリー?|コンテンツ|キーワード"
    r"|検索ワード|ランキング|タグ)?(?:一覧)?"
    r"|(?:アクセス|記事|週間|月間|デイリー)?ランキング|最新(?:の)?(?:記事|ニュース|情報|エントリー?)(?:\d+本)?"
    r"|新着(?:記事|ニュース|情報)?|(?:あわせて|合わせて|併せて)読みたい(?:記事)?|こちらもおすすめ|こちらも読まれています"
    r"|よく読まれている記事|この記事を読んだ人は.*|カテゴリ(?:ー)?別新着記事|記事一覧|もっと見る"
    r"|最近の(?:記事|タイトル|投稿|エントリー?|コメント)"
    r"|related(?: articles| posts| stories)?|recommended"
    r"|popular(?: posts)?|most read|you may also like|read next)(?:\s*[a-z][a-z ]*)?$",
    re.IGNORECASE,
)

#: Ad and promotion labels: a short text that is (or starts with) one of these is ad copy.
AD_LABEL = re.compile(r"^(?:\[?pr\]?|【pr】|広告|スポンサー(?:ド)?\s?(?:リンク)?|sponsored|ad|advertisement|提供)(?:[\s:：・\-]|$)",
                      re.IGNORECASE)

_EDGE = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def normalize_label(text: str) -> str:
    """NFKC, case folded, whitespace collapsed, symbols and brackets trimmed from both ends."""
    t = unicodedata.normalize("NFKC", text or "").casefold()
    t = " ".join(t.split())
    return _EDGE.sub("", t)


def is_generic_image_text(text: str) -> bool:
    """True for texts that only say "image" / "photo" / "click to enlarge" (「写真」「（クリックして拡大）」)."""
    return normalize_label(text) in GENERIC_IMAGE_WORDS


def is_navigation_label(text: str, max_ending_chars: int = 0) -> bool:
    """True for button / menu labels (「TOPへ戻る」「閉じる」「製品詳細へ」); with ``max_ending_chars``,
    also for texts that short ending like one (「広報関連のお問い合わせ」)."""
    t = normalize_label(text)
    return t in NAVIGATION_WORDS or (0 < len(t) <= max_ending_chars and UI_ENDING.search(t) is not None)


_BRACKETS = re.compile(r"[\[\]【】「」『』()（）〈〉《》<>≪≫・■□◆◇●○▼▽▶►★☆→\-–—|｜:：]+")
_PR_TAG = re.compile(r"(?:^|\s)pr(?:\s|$)")


def is_related_heading(text: str) -> bool:
    """True for headings of related / recommended / ranking / PR boxes (「関連記事」「【注目の記事】[PR]」)."""
    t = normalize_label(_BRACKETS.sub(" ", unicodedata.normalize("NFKC", text or "")))
    if not t or len(t) > 30:
        return False
    if RELATED_HEADINGS.match(t):
        return True
    stripped = " ".join(_PR_TAG.sub(" ", f" {t} ").split())  # 「【注目の記事】[PR]」: the PR tag around a heading
    return bool(stripped) and stripped != t and RELATED_HEADINGS.match(stripped) is not None
