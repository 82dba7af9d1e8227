"""Damaged and odd input files: a cut file keeps what was read and is counted, every reader drop
reaches the funnel, and input validation accepts exactly what the readers read."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from dataset_builders.pipeline.inputs import readers_for
from dataset_builders.pipeline.stage import ExecutorConfig, run_stage
from dataset_builders.tiny.sample.mini_crawl import build_mini_crawl
from dataset_builders.web.html_extract import HtmlExtractor
from dataset_builders.web.jsonl_reader import CorpusJsonlReader
from dataset_builders.web.warc_reader import WarcHtmlReader

JA = "今日は天気が良いので、近くの公園まで散歩に出かけました。桜がとてもきれいでした。"


def _records(n: int, start: int = 0) -> list[bytes]:
    return [json.dumps({"url": f"https://example.jp/{i}", "text": JA}, ensure_ascii=False).encode() + b"\n"
            for i in range(start, start + n)]


def _stats(step) -> dict:
    return {k: (v.total if hasattr(v, "total") else v) for k, v in step.stats.stats.items()}


def _run(reader) -> list:
    return list(reader())


def test_truncated_warc_gz_keeps_what_was_read_and_counts_the_file(tmp_path, caplog):
    crawl = build_mini_crawl(tmp_path / "src", "http://127.0.0.1:9")
    complete = _run(WarcHtmlReader(crawl.parent, glob_pattern=crawl.name))
    data = crawl.read_bytes()
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-cut.warc.gz").write_bytes(data[: len(data) // 2])
    (folder / "b-whole.warc.gz").write_bytes(data)
    reader = WarcHtmlReader(folder)
    with caplog.at_level(logging.WARNING):
        docs = _run(reader)
    cut = [d for d in docs if d.metadata["file_path"].endswith("a-cut.warc.gz")]
    assert 0 < len(cut) < len(complete)  # the records before the cut are kept
    assert len(docs) - len(cut) == len(complete)  # and the next file is read in full
    assert _stats(reader)["truncated"] == 1
    assert any("a-cut.warc.gz" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_truncated_plain_warc_is_counted(tmp_path):
    crawl = build_mini_crawl(tmp_path / "src", "http://127.0.0.1:9")
    plain = gzip.decompress(crawl.read_bytes())
    (tmp_path / "cut.warc").write_bytes(plain[: len(plain) * 2 // 3])
    reader = WarcHtmlReader(tmp_path, glob_pattern="cut.warc")
    assert _run(reader)
    assert _stats(reader)["truncated"] == 1


def test_truncated_jsonl_gz_keeps_what_was_read_and_goes_on(tmp_path, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    whole = gzip.compress(b"".join(_records(400)))
    (folder / "a-cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "b-whole.jsonl.gz").write_bytes(gzip.compress(b"".join(_records(10, start=1000))))
    reader = CorpusJsonlReader(folder)
    with caplog.at_level(logging.WARNING):
        docs = _run(reader)  # today: EOFError escapes and the task dies
    urls = [d.metadata["url"] for d in docs]
    assert sum(u.endswith(tuple(f"/{i}" for i in range(1000, 1010))) for u in urls) == 10
    assert 0 < len(urls) - 10 < 400
    assert _stats(reader)["truncated"] == 1
    assert any("a-cut.jsonl.gz" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_reader_drops_are_the_first_funnel_stage(tmp_path):
    lines = _records(5) + [b"{not json\n"] * 3 + [b'{"text": "no url"}\n', b"[1, 2]\n",
                                                 b'{"url": "https://x.jp/"}\n', b"null\n"]
    assert len(lines) == 12
    (tmp_path / "corpus.jsonl").write_bytes(b"".join(lines))
    whole = gzip.compress(b"".join(_records(400, start=1000)))
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    funnel = run_stage("extract", [*readers_for([tmp_path]), HtmlExtractor()], tmp_path / "work",
                       ExecutorConfig(tasks=2))
    assert funnel.problems() == []
    first, second = funnel.stages[0], funnel.stages[1]
    assert first.name.endswith("(files)") and first.input == 2 and first.dropped == {"truncated": 1}
    assert second.name == CorpusJsonlReader.name
    assert second.dropped == {"bad_json": 3, "bad_record": 4}
    assert second.input == 12 + second.kept - 5 and 5 < second.kept < 405
    assert funnel.stages[2].input == second.kept  # the extractor sees exactly what the reader kept


@pytest.mark.parametrize("name", ["crawl.WARC.GZ", "crawl.Warc", "crawl.arc", "crawl.arc.gz", "crawl.ARC.GZ"])
def test_every_accepted_suffix_is_read(tmp_path, name):
    src = build_mini_crawl(tmp_path / "src", "http://127.0.0.1:9")
    expected = len(_run(WarcHtmlReader(src.parent, glob_pattern=src.name)))
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    if "arc" in name.lower() and "warc" not in name.lower():
        records = _arc_records(src)
        expected = len(records) - 1
        gz = name.lower().endswith(".gz")  # one gzip member per record, as crawlers write them
        data = b"".join(gzip.compress(r) if gz else r for r in records)
    else:
        data = src.read_bytes() if name.lower().endswith(".gz") else gzip.decompress(src.read_bytes())
    (folder / "sub" / name).write_bytes(data)
    for given in (folder, folder / "sub" / name):  # a folder and the file itself
        docs = [d for r in readers_for([given]) for d in r()]
        assert len(docs) == expected, given


def _arc_records(warc: Path) -> list[bytes]:
    """The HTML responses of a WARC as ARC v1 records (what older crawls hold), file header first."""
    from warcio.archiveiterator import ArchiveIterator

    body = b"1 0 ja-vila test\nURL IP-address Archive-date Content-type Archive-length\n"
    out = [f"filedesc://crawl.arc 0.0.0.0 20240101000000 text/plain {len(body)}\n".encode() + body + b"\n"]
    with warc.open("rb") as f:
        for rec in ArchiveIterator(f):
            ctype = rec.http_headers.get_header("Content-Type") if rec.http_headers else ""
            if rec.rec_type != "response" or "html" not in (ctype or ""):
                continue
            payload = rec.http_headers.to_bytes() + rec.content_stream().read()
            uri = rec.rec_headers.get_header("WARC-Target-URI")
            out.append(f"{uri} 127.0.0.1 20240101000000 text/html {len(payload)}\n".encode() + payload + b"\n")
    return out


@pytest.mark.parametrize("name", ["crawl.warc.bak", "crawl.jsonl.zst", "crawl.json"])
def test_unreadable_suffixes_are_refused_at_validation(tmp_path, name):
    (tmp_path / name).write_bytes(b"{}\n")
    with pytest.raises(ValueError, match=r"unknown format.*\.warc\.gz"):
        readers_for([tmp_path / name])
    with pytest.raises(ValueError, match="holds no"):
        readers_for([tmp_path])


def test_a_folder_reads_only_what_validation_accepts(tmp_path):
    (tmp_path / "good.jsonl").write_bytes(b"".join(_records(3)))
    (tmp_path / "old.jsonl.bak").write_bytes(b"".join(_records(4, start=10)))  # a backup beside it: not input
    docs = [d for r in readers_for([tmp_path]) for d in r()]
    assert sorted(d.metadata["url"] for d in docs) == [f"https://example.jp/{i}" for i in range(3)]
