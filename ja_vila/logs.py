"""Logging for the command line: one format, one level switch; libraries only call ``getLogger``."""

from __future__ import annotations

import logging
import os
import sys

from dataset_builders.redaction import RedactSecrets


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (test runners swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbose: bool = False) -> None:
    level = logging.DEBUG if verbose else getattr(logging, os.environ.get("JA_VILA_LOG_LEVEL", "INFO").upper(), logging.INFO)
    handler = _CurrentStderr()
    handler.addFilter(RedactSecrets())  # API keys never reach the terminal, whoever logs them
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        handlers=[handler],
        force=True,
    )
    # HTTP clients log every request at INFO: keep that for --verbose only
    for noisy in ("urllib3", "httpx", "httpx2", "openai", "filelock", "fsspec", "datasets", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(level if verbose else max(level, logging.WARNING))
