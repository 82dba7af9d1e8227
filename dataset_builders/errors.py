"""Errors that are the user's to fix, and the path check that raises one.

The command line prints a :class:`UserInputError` as one line (``error: …``, the traceback only with
``-v``); any other exception is a bug and keeps its traceback. Raise it for a bad config value,
argument, path or input file; the message names the input and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path


class UserInputError(ValueError):
    """Bad input from the user (config, argument, path, data); the message names it and the fix."""


class InputNotFound(UserInputError, FileNotFoundError):
    """A named input (file, folder, model) does not exist."""


def looks_like_path(value: str | os.PathLike) -> bool:
    """Whether ``value`` is meant as a local path rather than a Hub id (``org/name`` has one ``/``)."""
    text = os.fspath(value)
    return text.startswith(("/", ".", "~")) or text.count("/") > 1 or (os.sep != "/" and os.sep in text)


def check_local_or_hub(value: str | os.PathLike, what: str) -> None:
    """Raise :class:`InputNotFound` when ``value`` is path-like and missing: a clear local error
    instead of a Hub lookup that fails with a network or repo-id error."""
    if looks_like_path(value) and not Path(os.fspath(value)).expanduser().exists():
        raise InputNotFound(f"{what} {os.fspath(value)}: no such file or folder (give a local folder or a Hub id ORG/NAME)")
