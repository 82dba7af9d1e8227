"""Logging for the command line: one format, one level switch; libraries only call ``getLogger``."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, os.environ.get("JA_VILA_LOG_LEVEL", "INFO").upper(), logging.INFO)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
        force=True,
    )
    # HTTP clients log every request at INFO: keep that for --verbose only
    for noisy in ("urllib3", "httpx", "httpx2", "openai", "filelock", "fsspec", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(level if verbose else max(level, logging.WARNING))
