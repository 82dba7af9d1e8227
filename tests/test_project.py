"""The project URL and version come from the package metadata, declared once in pyproject.toml."""

from __future__ import annotations

import email.message
import importlib.metadata
import tomllib
from pathlib import Path

import pytest

from dataset_builders import project
from dataset_builders.download.config import DEFAULT_USER_AGENT
from dataset_builders.funnel import Funnel
from dataset_builders.schema import PAIRS
from model_cards.dataset_card import DatasetCardInfo

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))


def test_url_and_version_are_the_declared_ones():
    assert PYPROJECT["project"]["urls"]["Homepage"] == project.PROJECT_URL
    assert PYPROJECT["project"]["version"] == project.VERSION
    assert f"+{project.PROJECT_URL};" in DEFAULT_USER_AGENT
    card = DatasetCardInfo("t", "d").render(PAIRS, Funnel(), n_samples=0, n_shards=0)
    assert f"Built with [ja-vila]({project.PROJECT_URL})" in card


def _metadata(urls: list[str]) -> email.message.Message:
    meta = email.message.Message()
    meta["Version"] = "9.9.9"
    for url in urls:
        meta["Project-URL"] = url
    return meta


@pytest.fixture
def fresh(monkeypatch):
    project.project_metadata.cache_clear()
    yield monkeypatch
    project.project_metadata.cache_clear()


def test_installed_metadata_wins(fresh):
    fresh.setattr(importlib.metadata, "metadata",
                  lambda name: _metadata(["Repository, https://example.org/r", "Homepage, https://example.org/h"]))
    assert project.project_metadata() == ("9.9.9", {"Repository": "https://example.org/r",
                                                    "Homepage": "https://example.org/h"})


def test_an_install_without_urls_falls_back_to_the_checkout(fresh):
    fresh.setattr(importlib.metadata, "metadata", lambda name: _metadata([]))
    version, urls = project.project_metadata()
    assert (version, urls["Homepage"]) == (PYPROJECT["project"]["version"], PYPROJECT["project"]["urls"]["Homepage"])


def test_no_url_anywhere_says_what_to_do(fresh, tmp_path):
    fresh.setattr(importlib.metadata, "metadata", lambda name: _metadata([]))
    fresh.setattr(project, "_PYPROJECT", tmp_path / "pyproject.toml")
    with pytest.raises(RuntimeError, match=r"\[project.urls\].*pip install -e"):
        project.project_metadata()
