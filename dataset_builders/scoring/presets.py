"""The paper's models (LLM-jp-3 VILA §3), named once: builders' defaults and ``configs/data`` presets use these.

``tests/test_presets.py`` checks every open_clip name/tag here and in the presets against
``open_clip.list_pretrained()``.
"""

from __future__ import annotations

from typing import Any

#: CLIP ViT-L/14 (OpenAI weights): the image embedder of LAION's NSFW head (dataset2metadata's setting).
PAPER_NSFW_SCORER: dict[str, Any] = {"type": "open_clip", "model": "ViT-L-14", "pretrained": "openai"}

#: Where the NSFW head's weights come from; the builders refuse to start without them.
NSFW_HEAD_SOURCE = (
    "LAION's CLIP ViT-L/14 NSFW head, the one dataset2metadata uses "
    "(https://github.com/LAION-AI/CLIP-based-NSFW-Detector, clip_autokeras_binary_nsfw.zip, "
    "converted to a state dict as README \"NSFW head weights\" shows)"
)

#: The two pair scorers (§3 画像・テキスト対データ): LAION-5B OpenCLIP and LINE's Japanese CLIP.
PAPER_PAIR_SCORERS: dict[str, dict[str, Any]] = {
    "openclip_xlmr_h14": {"type": "open_clip", "model": "xlm-roberta-large-ViT-H-14", "pretrained": "frozen_laion5b_s13b_b90k"},
    "japanese_clip": {"type": "transformers", "model": "line-corporation/clip-japanese-base", "trust_remote_code": True},
}

#: The image × sentence scorer of the interleaved builder (§3 Interleaved データ).
PAPER_INTERLEAVED_SCORER: dict[str, Any] = dict(PAPER_PAIR_SCORERS["openclip_xlmr_h14"])
