"""Image–text scoring for the pairs and interleaved builders: CLIP scorers, pair cut, similarities, NSFW.

One concept per file: ``scorer`` (the interface; similarity = cosine of L2-normalised embeddings),
``preprocess`` / ``loading`` (decode + resize in threads, normalise on the device), ``open_clip_scorer``
and ``hf_scorer`` (the two model families), ``tiny`` (random test models), ``registry`` (config dicts →
scorers), ``presets`` (the paper's models, named once), ``preflight`` (every named model resolves
before a build starts; nothing downloaded), ``combine`` (the median-weighted score and the
corpus-wide 30% rule), ``pairs`` (the scoring step, and the cut as a corpus rule), ``similarity`` (image × sentence matrices),
``nsfw`` (CLIP + MLP NSFW filter).
"""

from dataset_builders.scoring.combine import PairCutDecision, combined_scores, decide_pair_cut
from dataset_builders.scoring.nsfw import NsfwDetector, NsfwFilter, NsfwHead, load_nsfw_head
from dataset_builders.scoring.pairs import PairCut, PairScorer, caption_of
from dataset_builders.scoring.preflight import MissingWeights, check_models
from dataset_builders.scoring.presets import PAPER_PAIR_SCORERS
from dataset_builders.scoring.registry import build_scorer, register_scorer, scorer_types
from dataset_builders.scoring.scorer import BaseScorer, ImageEmbeddings, Scorer, cosine_matrix, cosine_pairs
from dataset_builders.scoring.similarity import (
    ImageSentenceSimilarity,
    image_sentence_similarities,
    similarity_matrix,
)

__all__ = [
    "PAPER_PAIR_SCORERS", "BaseScorer", "ImageEmbeddings", "ImageSentenceSimilarity", "MissingWeights", "NsfwDetector",
    "NsfwFilter", "NsfwHead", "PairCut", "PairCutDecision", "PairScorer", "Scorer", "build_scorer", "caption_of",
    "check_models", "combined_scores", "cosine_matrix", "cosine_pairs", "decide_pair_cut", "image_sentence_similarities",
    "load_nsfw_head", "register_scorer", "scorer_types", "similarity_matrix",
]
