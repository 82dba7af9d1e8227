"""``ja-vila preview DIR``: a self-contained HTML gallery of a dataset folder.

Interleaved documents read in order with each image right after the sentence it was assigned to,
pairs as a grid with their scores, conversations beside their image. Images are embedded as
downscaled JPEG data URIs (the page is one file, no requests); every text is HTML-escaped (it comes
from the web) and a Content-Security-Policy forbids scripts and remote resources.

    from model_cards.preview import write_preview
    write_preview("out/ja-interleaved", "ja-interleaved.html")
"""

from model_cards.preview.page import PreviewError, render_preview, write_preview

__all__ = ["PreviewError", "render_preview", "write_preview"]
