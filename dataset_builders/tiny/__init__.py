"""Offline stand-ins for the real models and data: the demo, ``type: tiny`` presets, tests and benchmarks share them.

A core package (the bottom layer): builders, training and evaluation may import it; it imports only
:mod:`dataset_builders.atomic` and third-party libraries.

- :mod:`~dataset_builders.tiny.sample`: the embedded sample (original Japanese web-page-like
  documents) and :mod:`~dataset_builders.tiny.sample.mini_crawl`, which renders them as a WARC.
- :mod:`~dataset_builders.tiny.tokenizer`: a byte-level BPE tokenizer trained on the sample.
- :mod:`~dataset_builders.tiny.models`: tiny randomly initialised Llava (LLM-jp-3 VILA-shaped) and CLIP.
- :mod:`~dataset_builders.tiny.synthetic_images`: deterministic synthetic pictures.

Import the submodules directly; this package imports nothing heavy on its own.
"""
