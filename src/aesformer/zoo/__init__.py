"""Base models of AesFormer: the real hub checkpoints or tiny random ones with their structure.

- thinker (AesThinker's base): Qwen3-VL, ``Qwen/Qwen3-VL-8B-Instruct``;
- editor (AesEditor's base): Qwen-Image-Edit-Plus, ``Qwen/Qwen-Image-Edit-2511``.

``aesformer models build-tiny`` (:func:`aesformer.zoo.stage.build_tiny`) writes the tiny ones;
the loaders below take either a tiny folder or a hub id with the same calls. See docs/models.md.
"""

from aesformer.zoo.editor import edit_plus_resolution, load_editor_pipeline, load_editor_processor
from aesformer.zoo.processors import Qwen2VLImageOnlyProcessor, Qwen3VLImageOnlyProcessor
from aesformer.zoo.thinker import load_thinker, load_thinker_processor
from aesformer.zoo.tokenizer import PLAN_DIMENSIONS, PLAN_TAGS, add_plan_tags

__all__ = [
    "PLAN_DIMENSIONS",
    "PLAN_TAGS",
    "Qwen2VLImageOnlyProcessor",
    "Qwen3VLImageOnlyProcessor",
    "add_plan_tags",
    "edit_plus_resolution",
    "load_editor_pipeline",
    "load_editor_processor",
    "load_thinker",
    "load_thinker_processor",
]
