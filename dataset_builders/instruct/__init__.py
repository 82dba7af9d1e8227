"""``ja-instruct``: Japanese instruction conversations from COCO annotations, photos and VQA data."""

from dataset_builders.instruct.builder import INSTRUCT_SCHEMA, build_instruct
from dataset_builders.instruct.config import InstructConfig

__all__ = ["INSTRUCT_SCHEMA", "InstructConfig", "build_instruct"]
