"""The shared front half of the web builders: same result over 1 or 3 tasks, and after kills."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.document_store import read_documents
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_front import WebConfig, run_web_front
from ja_vila.testing.corpus import write_sample_corpus
from tests.build_helpers import completion_markers, kill_and_resume
from tests.process_helpers import grows_by

REPO = Path(__file__).resolve().parents[1]


def config() -> WebConfig:
    return WebConfig(download=DownloadConfig(allow_networks=("127.0.0.1/32",), frequent_domain_max_share=None))


def store_contents(folder: Path) -> dict[str, list[tuple[str, str]]]:
    return {
        doc.id: [(m.url, m.metadata.get("phash")) for m in doc.media]
        for path in sorted(folder.glob("*.docs.tar"))
        for doc in read_documents(path)
    }


def test_same_documents_and_images_over_one_and_three_tasks(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    one = run_web_front([corpus], tmp_path / "w1", config(), ExecutorConfig(tasks=1))
    three = run_web_front([corpus], tmp_path / "w3", config(), ExecutorConfig(tasks=3, workers=1))
    kept1, kept3 = store_contents(one.documents), store_contents(three.documents)
    assert kept1 == kept3
    assert len(kept1) == 12 and sum(len(v) for v in kept1.values()) > 30  # the 2 non-Japanese pages are dropped
    assert one.funnel.to_list() == three.funnel.to_list()
    assert one.funnel.problems() == []
    assert {s.name for s in one.funnel.stages} >= {"🗾 Japanese", "📐 image size / aspect (images)"}


FRONT_SCRIPT = """
import sys
from loguru import logger
logger.remove()
from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_front import WebConfig, run_web_front
cfg = WebConfig(download=DownloadConfig(allow_networks=("127.0.0.1/32",), frequent_domain_max_share=None))
run_web_front([sys.argv[1]], sys.argv[2], cfg, ExecutorConfig(tasks=3, workers=1))
"""


@pytest.mark.slow
def test_killed_build_resumes_to_the_same_documents(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    reference = run_web_front([corpus], tmp_path / "ref", config(), ExecutorConfig(tasks=3, workers=1))
    work, rng = tmp_path / "killed", random.Random(3)
    images = lambda: sum(image_server.hits.values())  # noqa: E731
    kills = [lambda: grows_by(images, rng.randint(2, 12)),  # mid-download
             lambda: grows_by(lambda: completion_markers(work), 1),  # right after a task completes
             lambda: grows_by(images, rng.randint(2, 12)),
             lambda: grows_by(lambda: completion_markers(work), 1)]
    assert kill_and_resume([sys.executable, "-c", FRONT_SCRIPT, str(corpus), str(work)], kills) >= 2
    assert store_contents(work / "downloaded") == store_contents(reference.documents)
