"""Web extraction: WARC / corpus JSONL → ``Document(text, media=[image url + alt], metadata)``.

A typical pipeline (datatrove steps, sharded by rank over input files)::

    WarcHtmlReader("crawl/")  or  CorpusJsonlReader("corpus/")
    → HtmlExtractor()          # chrome out, main text + images in page order (URL, size, link rules)
    → JapaneseFilter()         # drops non-Japanese documents as ``not_japanese``

Choices (measured on ../shared/realdata; numbers in ``bench/extract.py`` and the issue note):
warcio over fastwarc for reading (fastwarc loses ClueWeb09-ja's ``<head>`` behind bare-LF headers
and leaves chunked/gzip payloads encoded); resiliparse main-content extraction over trafilatura
(about 20× faster for the text alone, similar quality against Readability's gold on the Japanese pages).
"""

from dataset_builders.web.charset import Decoded, DecodeError, decode_html
from dataset_builders.web.html_extract import (
    ExtractedPage,
    ExtractError,
    HtmlExtractor,
    extract_page,
    filter_media,
)
from dataset_builders.web.image_urls import (
    ImageUrlRules,
    choose_img_url,
    largest_srcset_candidate,
    resolve_url,
)
from dataset_builders.web.japanese import (
    JapaneseFilter,
    is_japanese,
    japanese_ratio,
    kana_ratio,
    script_counts,
)
from dataset_builders.web.jsonl_reader import CorpusJsonlReader, record_to_document
from dataset_builders.web.warc_reader import WarcHtmlReader

__all__ = [
    "CorpusJsonlReader", "DecodeError", "Decoded", "ExtractError", "ExtractedPage", "HtmlExtractor", "ImageUrlRules",
    "JapaneseFilter", "WarcHtmlReader", "choose_img_url", "decode_html", "extract_page", "filter_media",
    "is_japanese", "japanese_ratio", "kana_ratio", "largest_srcset_candidate", "record_to_document",
    "resolve_url", "script_counts",
]
