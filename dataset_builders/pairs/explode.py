"""From a page to its image / alt-text pairs: one document per image that carries an alt text.

The pair document's text is the alt text, its single medium the image, its id a stable key of
(page URL, image URL), so the same pair gets the same id whatever task reads the page.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline, MediaType
from datatrove.pipeline.base import PipelineStep

from dataset_builders.keys import make_key
from dataset_builders.provenance import page_origin


class ExplodePairs(PipelineStep):
    """Page → pairs. Counts pages (``total``/``forwarded``/``dropped_no_alt_images``) and images
    (``media_kept`` become pairs, ``media_dropped_no_alt``)."""

    name = "🪓 page → image/alt pairs"
    type = "🔀 - SPLIT"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for page in data or []:
            self.stat_update("total")
            page_url = page.metadata.get("url") or page.id
            meta = {"source_url": page_url}
            if page.metadata.get("title"):
                meta["page_title"] = page.metadata["title"]  # the alt rules compare alts with it
            pairs = []
            origin = page_origin(page.metadata)  # the page's input record, carried into every pair
            for media in page.media:
                if media.type != MediaType.IMAGE:
                    continue
                if not (media.alt or "").strip():
                    self.stat_update("media_dropped_no_alt")
                    continue
                self.stat_update("media_kept")
                pair_id = make_key(page_url, media.url)
                media.id = pair_id
                pairs.append(Document(text=media.alt, id=pair_id, media=[media], metadata={**meta, **origin}))
            if not pairs:
                self.stat_update("dropped", "dropped_no_alt_images")
                continue
            self.stat_update("forwarded")
            yield from pairs
