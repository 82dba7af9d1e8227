"""Errors that are the user's to fix, and the path check that raises one.

The command line prints a :class:`UserInputError` as one line (``error: …``, the traceback only with
``-v``); any other exception is a bug and keeps its traceback. Raise it for a bad config value,
argument, path or input file; the message names the input and the fix.
"""

from __future__ import annotations

import errno
import os
import tempfile
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


#: errors of a disk or folder the user must fix (full, over quota, read-only, not writable), not a bug
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}


class CannotWrite(UserInputError):
    """An output or work folder cannot be written (disk full, read-only, no permission, not a folder)."""

    def __init__(self, err: int, message: str):
        super().__init__(message)
        self.errno = err


def cannot_write(error: OSError, what: str = "") -> CannotWrite | None:
    """``error`` as a one-line :class:`CannotWrite` naming the path and the fix; None when it is not a
    disk or permission error (then it is a bug and keeps its traceback)."""
    if isinstance(error, CannotWrite):
        return error
    if error.errno not in _DISK_ERRNOS:
        return None
    path = error.filename or "?"
    fix = ("free space on that filesystem (or build into another --output / --work-dir), then re-run the same "
           "command: committed work is kept" if error.errno in (errno.ENOSPC, errno.EDQUOT) else
           "give a writable folder as --output / --work-dir")
    reason = f"{error.strerror or os.strerror(error.errno)} ({errno.errorcode.get(error.errno, error.errno)})"
    where = f"{what} ({path}: {reason})" if what else f"{path} ({reason})"
    return CannotWrite(error.errno, f"cannot write {where}: {fix}")


def check_writable(folder: str | os.PathLike, what: str) -> None:
    """Raise :class:`CannotWrite` unless ``folder`` (or, when it does not exist yet, its nearest existing
    parent) is a folder this process can create files in — tried by creating one and removing it, which
    holds for root too (permission bits alone do not stop root; a read-only mount or a file does)."""
    folder = Path(folder).expanduser().absolute()
    probe_in = folder
    while not probe_in.exists() and probe_in.parent != probe_in:
        probe_in = probe_in.parent
    try:
        if not probe_in.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "a file is in the way, not a folder", str(probe_in))
        fd, probe = tempfile.mkstemp(prefix=".ja-vila-write-check-", dir=probe_in)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise (cannot_write(e if e.filename else OSError(e.errno, e.strerror, str(probe_in)), f"{what} {folder}")
               or e) from None
