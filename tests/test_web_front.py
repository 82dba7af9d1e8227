"""The steps both web builders share (read + extract + Japanese, download + checks) with their two
image rules, run as the builders run them: same result over 1 or 3 tasks, and after kills."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.document_store import read_documents
from dataset_builders.pipeline.frequent_images import FrequentImages
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_steps import WebConfig
from ja_vila.testing.corpus import write_sample_corpus
from ja_vila.testing.front import run_front
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
    one = run_front([corpus], tmp_path / "w1", config(), ExecutorConfig(tasks=1))
    three = run_front([corpus], tmp_path / "w3", config(), ExecutorConfig(tasks=3, workers=1))
    kept1, kept3 = store_contents(tmp_path / "w1" / "downloaded"), store_contents(tmp_path / "w3" / "downloaded")
    assert kept1 == kept3
    assert len(kept1) == 12 and sum(len(v) for v in kept1.values()) > 30  # the 2 non-Japanese pages are dropped
    assert one.to_list() == three.to_list()
    assert one.problems() == []
    assert {s.name for s in one.stages} >= {"🗾 Japanese", "📐 image size / aspect (images)"}
    decisions = [FrequentImages(tmp_path / w).load_decision() for w in ("w1", "w3")]
    assert decisions[0] == decisions[1] and decisions[0]["summary"]["images"] == sum(len(v) for v in kept1.values())


FRONT_SCRIPT = """
import sys
from loguru import logger
logger.remove()
from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_steps import WebConfig
from ja_vila.testing.front import run_front
cfg = WebConfig(download=DownloadConfig(allow_networks=("127.0.0.1/32",), frequent_domain_max_share=None))
run_front([sys.argv[1]], sys.argv[2], cfg, ExecutorConfig(tasks=3, workers=1))
"""


@pytest.mark.slow
def test_killed_build_resumes_to_the_same_documents(tmp_path, image_server):
    corpus = write_sample_corpus(tmp_path / "corpus", image_server.base_url)
    run_front([corpus], tmp_path / "ref", config(), ExecutorConfig(tasks=3, workers=1))
    work, rng = tmp_path / "killed", random.Random(3)
    images = lambda: sum(image_server.hits.values())  # noqa: E731
    kills = [lambda: grows_by(images, rng.randint(2, 12)),  # mid-download
             lambda: grows_by(lambda: completion_markers(work), 1),  # right after a task completes
             lambda: grows_by(images, rng.randint(2, 12)),
             lambda: grows_by(lambda: completion_markers(work), 1)]
    assert kill_and_resume([sys.executable, "-c", FRONT_SCRIPT, str(corpus), str(work)], kills) >= 2
    assert store_contents(work / "downloaded") == store_contents(tmp_path / "ref" / "downloaded")
