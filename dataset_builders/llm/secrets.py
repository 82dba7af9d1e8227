"""API keys: read from the environment, held in a wrapper that never prints, scrubbed from text.

The key reaches exactly one place, the ``Authorization`` (or Azure ``api-key``) header. It is not
part of the config, the cache key, the cache entries, the logs or any output file; every message the
client logs or stores goes through :meth:`Secret.redact` first. Other libraries log too (with ``-v``
the HTTP clients log requests at DEBUG, and a header they refuse is shown escaped), so the command
line's log handler also carries :class:`~dataset_builders.redaction.RedactSecrets`: every record
that reaches it has every key this process holds replaced, raw or in the escaped forms ``repr`` writes.
"""

from __future__ import annotations

import os

from dataset_builders.redaction import REDACTED, register_secret

#: Placeholder sent to self-hosted servers that run without a key (the SDK insists on one).
NO_KEY = "EMPTY"


class Secret:
    """A string that shows as ``***`` in ``repr``/``str``; ``reveal()`` returns the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value
        if value and value != NO_KEY and len(value) >= 4:
            register_secret(value)

    def reveal(self) -> str:
        return self._value

    def redact(self, text: object) -> str:
        """``text`` with every occurrence of the key replaced (also any Bearer token after it)."""
        s = str(text)
        if self._value and self._value != NO_KEY and len(self._value) >= 4:
            s = s.replace(self._value, REDACTED)
        return s

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __reduce__(self):  # never pickled into a cache or a worker by accident
        raise TypeError("Secret values are not picklable")


class MissingAPIKey(RuntimeError):
    """No usable API key: none is set, or (:class:`RejectedAPIKey`) the server refused the one sent."""


class RejectedAPIKey(MissingAPIKey):
    """The server answered 401/403: every later request would be refused too, so the run stops."""


def secret_from_env(env_name: str | None, required: bool) -> Secret:
    """The key in ``$env_name``; a clear error when a hosted API needs it and it is not set."""
    value = os.environ.get(env_name) if env_name else None
    if value:
        return Secret(value.strip())
    if required:
        raise MissingAPIKey(
            f"no API key: set the environment variable {env_name} (or point llm.api_key_env at the "
            "variable that holds it); keys are never read from config files"
        )
    return Secret(NO_KEY)
