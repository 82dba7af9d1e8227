"""The Hub's card rules, checked offline before anything is staged.

``huggingface_hub``'s ``RepoCard.validate()`` posts the card to the Hub (``/api/validate-yaml``), so
it cannot run in an offline release or a test. This module checks what that endpoint checks for our
cards, with the same parser the Hub library uses: the YAML header parses into the card-data class
(``ignore_metadata_errors=False``, so a malformed ``model-index`` raises), the licence is one of the
Hub's identifiers or ``other`` with ``license_name`` + ``license_link``, lists are lists of strings,
``base_model`` / ``datasets`` are repo ids, and the dataset fields (``task_categories``,
``size_categories``, ``configs``) have the Hub's shapes.
"""

from __future__ import annotations

import re
from typing import Any

from huggingface_hub import DatasetCard, ModelCard, RepoCard

#: License identifiers the Hub accepts (https://huggingface.co/docs/hub/repositories-licenses).
HUB_LICENSES = frozenset({
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd",
    "bsd-2-clause", "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5",
    "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0",
    "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0",
    "cc-by-nc-sa-4.0", "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0",
    "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl", "gpl-2.0",
    "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "h-research", "intel-research", "lppl-1.3c", "ms-pl",
    "apple-ascl", "apple-amlr", "mpl-2.0", "odc-by", "odbl", "openmdw-1.0", "openrail++", "osl-3.0",
    "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license",
    "fair-noncommercial-research-license", "llama2", "llama3", "llama3.1", "llama3.2", "llama3.3", "llama4",
    "gemma", "unknown", "other"
})
SIZE_CATEGORIES = frozenset({"n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M",
                             "100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T"})
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$")
_LICENSE_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
LICENSE_HELP = ("use a Hub licence id (e.g. cc-by-4.0, apache-2.0) or --license other with --license-name "
                "(a lowercase id such as my-terms-1.0) and --license-link (a URL or LICENSE file)")


class CardError(ValueError):
    """A card the Hub would reject; the message names the field and the fix."""


def license_problems(data: dict[str, Any]) -> list[str]:
    """What is wrong with a card's licence fields (empty: nothing)."""
    license_id = data.get("license")
    if license_id is None:
        return ["no license: " + LICENSE_HELP]
    if not isinstance(license_id, str) or license_id not in HUB_LICENSES:
        return [f"license {license_id!r} is not a Hub licence id; " + LICENSE_HELP]
    if license_id == "other":
        problems = []
        name, link = data.get("license_name"), data.get("license_link")
        if not isinstance(name, str) or not _LICENSE_NAME.match(name):
            problems.append(f"license: other needs license_name (a lowercase id), got {name!r}; " + LICENSE_HELP)
        if not isinstance(link, str) or not link.strip():
            problems.append("license: other needs license_link (a URL or a file in the repo); " + LICENSE_HELP)
        return problems
    return []


def _string_list(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise CardError(f"{key}: every entry must be a non-empty string, got {value!r}")
    return items


def card_problems(card: RepoCard, repo_type: str) -> list[str]:
    """Every rule the card breaks (see the module docstring)."""
    cls = ModelCard if repo_type == "model" else DatasetCard
    try:  # the Hub library's own strict parse (model-index → EvalResult, etc.)
        parsed = cls(str(card), ignore_metadata_errors=False)
    except Exception as e:  # noqa: BLE001 - any parse error is a card the Hub rejects
        return [f"the card metadata does not parse: {e}"]
    data = parsed.data.to_dict()
    problems = license_problems(data)
    try:
        for key in ("language", "tags", "task_categories", "size_categories"):
            _string_list(data, key)
        for key in ("base_model", "datasets"):
            bad = [v for v in _string_list(data, key) if not _REPO_ID.match(v)]
            if bad:
                problems.append(f"{key}: {bad} are not Hub repo ids (ORG/NAME); local folders cannot be listed")
    except CardError as e:
        problems.append(str(e))
    if repo_type == "dataset":
        bad_sizes = [s for s in _string_list(data, "size_categories") if s not in SIZE_CATEGORIES]
        if bad_sizes:
            problems.append(f"size_categories {bad_sizes} are not Hub size categories")
        for config in data.get("configs") or []:
            if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
                problems.append(f"configs entry {config!r} needs config_name and data_files")
    if repo_type == "model" and "model-index" in data:
        for entry in data["model-index"]:
            if not entry.get("results"):
                problems.append(f"model-index entry {entry.get('name')!r} has no results (leave model-index out)")
    if not parsed.text.strip():
        problems.append("the card has no text below its metadata")
    return problems


def check_card(card: RepoCard, repo_type: str) -> None:
    """Raise :class:`CardError` listing every rule ``card`` breaks."""
    problems = card_problems(card, repo_type)
    if problems:
        raise CardError(f"the {repo_type} card would be rejected by the Hub: " + "; ".join(problems))


def check_license_args(license_id: str | None, license_name: str | None = None, license_link: str | None = None) -> None:
    """The ``--license`` / ``--license-name`` / ``--license-link`` of a release, checked before any work."""
    if not license_id:
        raise CardError("--license is required: " + LICENSE_HELP)
    data = {"license": license_id, "license_name": license_name, "license_link": license_link}
    problems = license_problems(data)
    if license_id != "other" and (license_name or license_link):
        problems.append(f"--license-name/--license-link go with --license other, not {license_id}")
    if problems:
        raise CardError("; ".join(problems))
