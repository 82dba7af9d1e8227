"""YAML configs read into dataclasses: typos fail loudly, overrides apply."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dataset_builders.config import ConfigError, load_config


@dataclass
class Inner:
    threshold: float = 0.2
    names: tuple[str, ...] = ("a",)


@dataclass
class Outer:
    tasks: int = 1
    inner: Inner = field(default_factory=Inner)
    label: str | None = None


def test_defaults_file_and_overrides(tmp_path):
    assert load_config(Outer) == Outer()
    path = tmp_path / "c.yaml"
    path.write_text("tasks: 3\ninner:\n  names: [x, y]\n", encoding="utf-8")
    cfg = load_config(Outer, path, overrides=["inner.threshold=0.3", "label=テスト"])
    assert cfg == Outer(tasks=3, inner=Inner(threshold=0.3, names=("x", "y")), label="テスト")


def test_unknown_key_names_file_and_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  treshold: 0.3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(Outer, path)
    assert str(path) in str(e.value) and "treshold" in str(e.value) and "threshold" in str(e.value)


def test_missing_file_and_bad_override():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Outer, "no/such.yaml")
    with pytest.raises(ConfigError, match="key.sub=value"):
        load_config(Outer, None, ["tasks"])


def test_override_below_a_null_key_and_below_a_scalar(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner: null\nlabel: abc\n", encoding="utf-8")
    assert load_config(Outer, path, ["inner.threshold=0.3"]).inner == Inner(threshold=0.3)
    with pytest.raises(ConfigError, match="label is 'abc', not a mapping"):
        load_config(Outer, path, ["label.x=1"])
