"""Point image URLs of real pages at the loopback image server, so tests can run real pages end to end.

Real pages link images on the internet, which tests must not reach. This step (a builder's extra
text step) rewrites each image URL to a deterministic ``/img/<key>.jpg?w=..&h=..`` on the server and
keeps the original in ``media.metadata["original_url"]``. The image is served at the size the page
declares for it (``width``/``height`` from the extractor, attributes or inline style), so a 1x1
tracking pixel or a 16px icon meets the size rules as it would on the real web; with one side
declared the server scales the other, and an image that declares nothing gets a size from the URL's
hash (some deliberately too small or too narrow for the size rules).
"""

from __future__ import annotations

import hashlib

from datatrove.data import DocumentsPipeline, Media
from datatrove.pipeline.base import PipelineStep

from dataset_builders.keys import make_key

SIZES = [(640, 480), (800, 600), (480, 640), (1024, 768), (300, 300), (120, 90), (900, 300)]


def _size_query(media: Media) -> str:
    """``w=..&h=..``: the declared size (one side or both), else a size from the URL's hash."""
    declared = {k: media.metadata.get(n) for k, n in (("w", "width"), ("h", "height"))}
    declared = {k: v for k, v in declared.items() if isinstance(v, int) and v > 0}
    if not declared:
        declared = dict(zip("wh", SIZES[hashlib.sha1(media.url.encode()).digest()[0] % len(SIZES)], strict=True))
    return "&".join(f"{k}={v}" for k, v in declared.items())


class RedirectImagesToLoopback(PipelineStep):
    name = "🔁 images → loopback server (tests)"
    type = "🧪 - TEST"

    def __init__(self, base_url: str):
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data or []:
            for media in doc.media:
                media.metadata["original_url"] = media.url
                media.url = f"{self.base_url}/img/{make_key(media.url)}.jpg?{_size_query(media)}"
            yield doc
