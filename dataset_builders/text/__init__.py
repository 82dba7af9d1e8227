"""Japanese text rules: alt-text filtering (pairs builder), harmful-content filtering and sentence
splitting (interleaved builder). One concept per module:

- ``chars`` — what counts as a Japanese character, a Latin letter, a digit;
- ``whitespace`` — alt-text whitespace normalisation;
- ``filenames`` — file-name / id / URL detection;
- ``harmful`` — HojiChar adult / violence / discrimination keyword filters;
- ``alt_text`` — the alt-text rule chain and its datatrove filter;
- ``splitter`` — the Splitter interface, registry and default-splitter decision;
- ``bunkai_import`` / ``bunkai_splitter`` — bunkai (with the transformers-5 import fix);
- ``fast_splitter`` — bunkai's rules as regexes;
- ``merge`` — the paper's merge rule for symbol-only sentences;
- ``split_step`` — the SplitSentences datatrove step;
- ``boundary_eval`` — boundary F1 and readers for the gold files.
"""

from dataset_builders.text.alt_text import AltTextFilter, alt_text_drop_reason
from dataset_builders.text.chars import count_content_chars, has_content, has_japanese
from dataset_builders.text.filenames import is_filename_like
from dataset_builders.text.harmful import HarmfulContentFilter, HarmfulTextChecker
from dataset_builders.text.merge import merge_spans, merge_symbol_only
from dataset_builders.text.split_step import SplitSentences, split_sentences
from dataset_builders.text.splitter import DEFAULT_SPLITTER, Splitter, available_splitters, get_splitter
from dataset_builders.text.whitespace import normalize_whitespace

__all__ = [
    "DEFAULT_SPLITTER",
    "AltTextFilter",
    "HarmfulContentFilter",
    "HarmfulTextChecker",
    "SplitSentences",
    "Splitter",
    "alt_text_drop_reason",
    "available_splitters",
    "count_content_chars",
    "get_splitter",
    "has_content",
    "has_japanese",
    "is_filename_like",
    "merge_spans",
    "merge_symbol_only",
    "normalize_whitespace",
    "split_sentences",
]
