"""The toolkit's version and project URL, read from the package metadata in one place.

Cards, evaluation reports and the downloader's User-Agent cite the project; ``[project.urls]`` in
``pyproject.toml`` declares the URL once and everything reads it here. An editable install made
before the URL was declared has no ``Project-URL`` in its metadata: then a source checkout's
``pyproject.toml`` is read instead.
"""

from __future__ import annotations

import functools
import importlib.metadata
import tomllib
from pathlib import Path

DISTRIBUTION = "ja-vila"
#: The ``[project.urls]`` label cards and reports link.
URL_LABEL = "Homepage"
_PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _installed() -> tuple[str, dict[str, str]] | None:
    try:
        meta = importlib.metadata.metadata(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None
    urls = {}
    for entry in meta.get_all("Project-URL") or []:  # "Label, https://..."
        label, _, url = entry.partition(",")
        urls[label.strip()] = url.strip()
    return meta["Version"], urls


def _checkout() -> tuple[str, dict[str, str]] | None:
    if not _PYPROJECT.is_file():
        return None
    project = tomllib.loads(_PYPROJECT.read_text(encoding="utf-8")).get("project", {})
    if project.get("name") != DISTRIBUTION:
        return None
    return str(project.get("version", "")), dict(project.get("urls", {}))


@functools.cache
def project_metadata() -> tuple[str, dict[str, str]]:
    """``(version, {label: url})`` of the ja-vila distribution (installed metadata first)."""
    for source in (_installed(), _checkout()):
        if source and URL_LABEL in source[1]:
            return source
    raise RuntimeError(f"no {URL_LABEL!r} in [project.urls] of the {DISTRIBUTION} metadata; "
                       "reinstall the package (pip install -e .) from a checkout whose pyproject.toml declares it")


VERSION, _URLS = project_metadata()
#: Where the toolkit lives; cards and reports link it (the Hub's model-index needs a source URL).
PROJECT_URL = _URLS[URL_LABEL]
