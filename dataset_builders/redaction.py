"""Secrets never reach a log: a registry of the secret values this process holds, and a logging
filter that replaces them (raw, or escaped as ``repr`` writes them) in every record it sees.

:class:`~dataset_builders.llm.secrets.Secret` registers each key it wraps; the command line installs
:class:`RedactSecrets` on its log handler (``ja_vila.logs``), so what any library logs — an HTTP
client's DEBUG line showing a header it refused, a traceback — is cleaned before it is written.
"""

from __future__ import annotations

import logging

REDACTED = "***REDACTED***"

_FORMS: set[str] = set()  # every known secret, raw and escaped: what RedactSecrets replaces


def register_secret(value: str) -> None:
    """Remember ``value`` and the forms logs show it in: ``repr`` of the str and of its UTF-8 bytes,
    escaped up to three times over (a repr inside an exception's repr inside a log line)."""
    forms = {value}
    for start in (value, value.encode("utf-8", "backslashreplace")):
        form: str | bytes = start
        for _ in range(3):
            form = repr(form)[2:-1] if isinstance(form, bytes) else repr(form)[1:-1]
            forms.add(form)
    _FORMS.update(f for f in forms if len(f) >= 4)


class RedactSecrets(logging.Filter):
    """Handler filter: replaces every known secret (see :func:`register_secret`) in each record's message and
    traceback text before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _FORMS:
            return True
        try:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
        except Exception:  # a broken record is the formatter's to report
            return True
        clean = _redact_all(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_text:
            record.exc_text = _redact_all(record.exc_text)
        if record.stack_info:
            record.stack_info = _redact_all(record.stack_info)
        return True


def _redact_all(text: str) -> str:
    for form in sorted(_FORMS, key=len, reverse=True):  # longest first: escaped forms contain raw parts
        if form in text:
            text = text.replace(form, REDACTED)
    return text
