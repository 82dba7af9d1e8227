"""Point image URLs of real pages at the loopback image server, so tests can run real pages end to end.

Real pages link images on the internet, which tests must not reach. This step (a builder's extra
text step) rewrites each image URL to a deterministic ``/img/<key>.jpg?w=..&h=..`` on the server,
sized from the URL's hash (some deliberately too small or too narrow for the size rules), and keeps
the original in ``media.metadata["original_url"]``.
"""

from __future__ import annotations

import hashlib

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from dataset_builders.keys import make_key

SIZES = [(640, 480), (800, 600), (480, 640), (1024, 768), (300, 300), (120, 90), (900, 300)]


class RedirectImagesToLoopback(PipelineStep):
    name = "🔁 images → loopback server (tests)"
    type = "🧪 - TEST"

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data or []:
            for media in doc.media:
                w, h = SIZES[hashlib.sha1(media.url.encode()).digest()[0] % len(SIZES)]
                media.metadata["original_url"] = media.url
                media.url = f"{self.base_url}/img/{make_key(media.url)}.jpg?w={w}&h={h}"
            yield doc
