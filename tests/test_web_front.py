"""The steps both web builders share (read + extract + Japanese, download + checks) with their two
image rules, run as the builders run them: same result over 1 or 3 tasks, and after kills."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataset_builders.download.config import DownloadConfig
from dataset_builders.pipeline.document_store import read_documents
from dataset_builders.pipeline.frequent_images import FrequentImages
from dataset_builders.pipeline.stage import ExecutorConfig
from dataset_builders.pipeline.web_steps import WebConfig
from ja_vila.testing.corpus import write_sample_corpus
from ja_vila.testing.front import run_front

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
    work, rng, kills = tmp_path / "killed", random.Random(3), 0
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", FRONT_SCRIPT, str(corpus), str(work)], cwd=REPO)
        time.sleep(rng.uniform(3.0, 7.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "every run finished before it could be killed"
    subprocess.run([sys.executable, "-c", FRONT_SCRIPT, str(corpus), str(work)], cwd=REPO, check=True, timeout=300)
    assert store_contents(work / "downloaded") == store_contents(tmp_path / "ref" / "downloaded")
