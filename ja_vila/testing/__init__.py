"""Fixtures for the test suite only (pytest): corpora, evaluation folders and servers scripted for tests.

Nothing in the installed toolkit imports this package (``tools/check_layers.py`` enforces it).
Product pieces the demo uses live below it: tiny models, the tokenizer, synthetic images and the
embedded sample in :mod:`dataset_builders.tiny`, the loopback servers in :mod:`ja_vila.servers`.
Import the submodules directly; this package imports nothing heavy on its own.
"""
