"""Disk full and unwritable outputs (issue 16 item 11): one line naming the path and the fix, no partial
file left, and an unwritable ``--output`` refused before any stage runs."""

from __future__ import annotations

import errno
import os
import tarfile

import pytest
from typer.testing import CliRunner

from dataset_builders.config import load_config
from dataset_builders.errors import CannotWrite
from dataset_builders.pairs.build import PairsConfig, build_pairs
from ja_vila.cli import app
from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import REPO

TINY = REPO / "configs" / "data" / "pairs-tiny.yaml"


def _full_disk(monkeypatch, under: os.PathLike | None = None, after: int = 1) -> None:
    """Every tar write under ``under`` (shards, document stores) after the first ``after`` members fails as
    a full disk does: ENOSPC, no file name. (Injected: a real full filesystem needs a mount; the error
    the kernel returns is the same.)"""
    real, calls = tarfile.TarFile.addfile, {"n": 0}

    def addfile(self, *args, **kwargs):
        if under is not None and not str(self.name).startswith(str(under)):
            return real(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "addfile", addfile)


@pytest.mark.parametrize("full", ["out/data", "out.work"])
def test_disk_full_is_one_line_naming_the_file_and_leaves_nothing_partial(full, tmp_path, image_server, monkeypatch):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    out = tmp_path / "out"
    cfg = load_config(PairsConfig, TINY, [])
    with monkeypatch.context() as m:
        _full_disk(m, tmp_path / full)
        with pytest.raises(CannotWrite) as caught:
            build_pairs([corpus], out, cfg)
    message = str(caught.value)
    assert "\n" not in message and "No space left on device" in message and "free space" in message
    assert str(tmp_path / full) in message and ".tmp" in message  # the file that could not be written
    assert list(tmp_path.rglob("*.tmp")) == []  # no partial shard or document store
    # space freed: the same command continues and finishes
    stats = build_pairs([corpus], out, load_config(PairsConfig, TINY, []))
    assert stats["samples"] > 0 and not list((out / "data").glob("*.tmp"))


def test_disk_full_through_the_cli_is_one_error_line(tmp_path, image_server, monkeypatch):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    _full_disk(monkeypatch, tmp_path / "out" / "data")
    result = CliRunner().invoke(app, ["build", "pairs", "--input", str(corpus), "--output", str(tmp_path / "out"),
                                      "--config", str(TINY)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    # the last line, alone; the failed task's own log (datatrove logs every task failure) stays in the log
    assert len(lines) == 1 and lines[0] == result.output.strip().splitlines()[-1]
    assert "No space left on device" in lines[0] and str(tmp_path / "out" / "data") in lines[0]


def test_output_that_cannot_be_a_folder_is_refused_before_any_stage(tmp_path, image_server):
    """Covers an output path under a file (ENOTDIR), which holds for root too; permission bits are
    covered by the next test, which root cannot run (root writes through them)."""
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    (tmp_path / "a-file").write_text("not a folder")
    work = tmp_path / "work"
    result = CliRunner().invoke(app, ["build", "pairs", "--input", str(corpus), "--output",
                                      str(tmp_path / "a-file" / "out"), "--work-dir", str(work), "--config", str(TINY)])
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: cannot write --output") and str(tmp_path / "a-file") in line
    assert not (work / "logs").exists() and image_server.hits.total() == 0  # nothing read, scored or fetched


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_output_is_refused_before_any_stage(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        with pytest.raises(CannotWrite, match="cannot write --output .*give a writable folder"):
            build_pairs([corpus], parent / "out", load_config(PairsConfig, TINY, []), work_dir=tmp_path / "work")
        assert not (tmp_path / "work" / "logs").exists()
    finally:
        parent.chmod(0o755)
