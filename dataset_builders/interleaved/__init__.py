"""The interleaved (MMC4-style) builder's core: image→sentence assignment, document rules, samples.

One concept per module: ``assignment`` (drop unrelated images, solve the assignment, lay out),
``token_length`` (the LLM token count of a document), ``rules`` (which documents are kept),
``steps`` (the datatrove steps) and ``sample`` (the WebDataset sample and its schema).
"""

from dataset_builders.interleaved.assignment import (
    DEFAULT_SOLVER,
    MIN_SIMILARITY,
    Assignment,
    Layout,
    assign_images,
    document_layout,
    solve_assignment,
)
from dataset_builders.interleaved.rules import REASONS, InterleavedRules, document_drop_reason
from dataset_builders.interleaved.sample import INTERLEAVED_DOCS, to_interleaved_sample
from dataset_builders.interleaved.steps import AssignImages, DocumentRules
from dataset_builders.interleaved.token_length import DocumentTemplate, document_token_length, load_tokenizer

__all__ = [
    "DEFAULT_SOLVER",
    "INTERLEAVED_DOCS",
    "MIN_SIMILARITY",
    "REASONS",
    "AssignImages",
    "Assignment",
    "DocumentRules",
    "DocumentTemplate",
    "InterleavedRules",
    "Layout",
    "assign_images",
    "document_drop_reason",
    "document_layout",
    "document_token_length",
    "load_tokenizer",
    "solve_assignment",
    "to_interleaved_sample",
]
