"""AesThinker's base: Qwen3-VL (``Qwen/Qwen3-VL-8B-Instruct``) or a tiny random one like it.

:func:`build_thinker` writes a folder with the same layout and classes as the hub checkpoint:
``config.json`` + ``model.safetensors`` (a random-initialised ``Qwen3VLForConditionalGeneration``
with the real structure: 16 px patches, 2x2 spatial merge, temporal patch 2, deepstack mergers,
interleaved multimodal RoPE), ``generation_config.json``, the tokenizer (see
:mod:`aesformer.zoo.tokenizer`), the image processor and the processor config (see
:mod:`aesformer.zoo.processors`), and ``build_info.json``.

:func:`load_thinker` and :func:`load_thinker_processor` load that folder and the hub id with the
same calls (``AutoModelForImageTextToText`` / :class:`Qwen3VLImageOnlyProcessor`), safetensors
only and never with remote code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForImageTextToText,
    GenerationConfig,
    PreTrainedModel,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
)
from transformers.image_utils import SizeDict

from aesformer.config import TinyThinkerConfig
from aesformer.errors import ConfigError
from aesformer.zoo.artifacts import (
    count_parameters,
    folder_bytes,
    is_local,
    require_safetensors,
    revision_kwargs,
    staged_folder,
    write_build_info,
)
from aesformer.zoo.processors import Qwen3VLImageOnlyProcessor, qwen_image_processor
from aesformer.zoo.tokenizer import (
    CONFIG_TOKENS,
    ENDOFTEXT,
    IM_END,
    IMAGE_PAD,
    MODEL_MAX_LENGTH,
    PLAN_TAGS,
    QWEN3_VL_CHAT_TEMPLATE,
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    BpeModel,
    build_tokenizer,
    embedding_rows,
    token_ids,
)

HUB_ID = "Qwen/Qwen3-VL-8B-Instruct"

# Fixed parts of the tiny architecture (the sizes come from TinyThinkerConfig).
PATCH_SIZE = 16
SPATIAL_MERGE_SIZE = 2
TEMPORAL_PATCH_SIZE = 2
#: Vision MLP width as a multiple of the vision hidden size (4304 / 1152 = 3.7 in the 8B model).
VISION_MLP_RATIO = 4
#: Side of the learned vision position grid (48 in the 8B model: 2304 positions).
VISION_POSITION_GRID = 16
#: Deepstack levels (3 in the 8B model), capped by the vision depth and the text layers.
DEEPSTACK_LEVELS = 3
ROPE_THETA = 5_000_000.0
#: The 8B model's ``mrope_section`` (t, h, w) for a 128-dim head; scaled to the tiny head size.
MROPE_PROPORTIONS = (24, 20, 20)
#: Image sizes the tiny processor resizes to: 32x32 (one merged token) up to 256x256 (64 tokens).
MIN_PIXELS = 32 * 32
MAX_PIXELS = 256 * 256
#: Qwen3-VL normalises pixels to [-1, 1].
IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


def mrope_section(head_dim: int, proportions: Sequence[int]) -> list[int]:
    """Split the ``head_dim // 2`` rotary frequencies over (t, h, w) like the real model does.

    ``proportions`` is the real model's section for a 128-dim head (sum 64); the result has the
    same proportions for ``head_dim`` and sums to ``head_dim // 2``.
    """
    pairs = head_dim // 2
    full = sum(proportions)
    h = proportions[1] * pairs // full
    w = proportions[2] * pairs // full
    if head_dim % 2 or h < 1 or w < 1:
        raise ConfigError(f"attention head size {head_dim} is too small for multimodal RoPE")
    return [pairs - h - w, h, w]


def _check(cfg: TinyThinkerConfig) -> None:
    problems = []
    if cfg.hidden_size % cfg.num_attention_heads:
        problems.append("hidden_size must be a multiple of num_attention_heads")
    if cfg.num_attention_heads % cfg.num_key_value_heads:
        problems.append("num_attention_heads must be a multiple of num_key_value_heads")
    if (
        cfg.vision_hidden_size % cfg.vision_num_heads
        or (cfg.vision_hidden_size // cfg.vision_num_heads) % 4
    ):
        problems.append("vision_hidden_size / vision_num_heads must be a multiple of 4")
    if problems:
        raise ConfigError("; ".join(f"models.thinker.tiny: {p}" for p in problems))


def _deepstack_indexes(vision_depth: int, text_layers: int) -> list[int]:
    """Vision blocks whose features are merged into the first text layers, spread evenly."""
    levels = min(DEEPSTACK_LEVELS, vision_depth, text_layers)
    return [vision_depth * k // (levels + 1) for k in range(1, levels + 1)]


def thinker_config(
    cfg: TinyThinkerConfig, tokenizer_size: int, ids: dict[str, int]
) -> Qwen3VLConfig:
    """The tiny ``Qwen3VLConfig`` for ``cfg``, its vocabulary and the tokenizer's vision ids."""
    _check(cfg)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    text = {
        "vocab_size": embedding_rows(tokenizer_size),
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_key_value_heads": cfg.num_key_value_heads,
        "head_dim": head_dim,
        "max_position_embeddings": MODEL_MAX_LENGTH,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": ROPE_THETA,
            "mrope_section": mrope_section(head_dim, MROPE_PROPORTIONS),
            "mrope_interleaved": True,
        },
        "tie_word_embeddings": False,
    }
    vision = {
        "depth": cfg.vision_depth,
        "hidden_size": cfg.vision_hidden_size,
        "intermediate_size": cfg.vision_hidden_size * VISION_MLP_RATIO,
        "num_heads": cfg.vision_num_heads,
        "out_hidden_size": cfg.hidden_size,
        "patch_size": PATCH_SIZE,
        "spatial_merge_size": SPATIAL_MERGE_SIZE,
        "temporal_patch_size": TEMPORAL_PATCH_SIZE,
        "num_position_embeddings": VISION_POSITION_GRID**2,
        "deepstack_visual_indexes": _deepstack_indexes(cfg.vision_depth, cfg.num_hidden_layers),
    }
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=ids[IMAGE_PAD],
        video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        tie_word_embeddings=False,
    )


def build_thinker(cfg: TinyThinkerConfig, bpe: BpeModel, out: Path) -> dict[str, Any]:
    """Build the tiny thinker into ``out`` (replaced atomically); return its numbers."""
    tokenizer = build_tokenizer(bpe, "qwen3_vl")
    ids = token_ids(tokenizer, CONFIG_TOKENS)
    processor = Qwen3VLImageOnlyProcessor(
        image_processor=qwen_image_processor(
            patch_size=PATCH_SIZE,
            min_pixels=MIN_PIXELS,
            max_pixels=MAX_PIXELS,
            image_mean=IMAGE_MEAN,
            image_std=IMAGE_STD,
        ),
        tokenizer=tokenizer,
        chat_template=QWEN3_VL_CHAT_TEMPLATE,
    )
    config = thinker_config(cfg, len(tokenizer), ids)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = Qwen3VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=ids[ENDOFTEXT],
        eos_token_id=[ids[IM_END], ids[ENDOFTEXT]],
        pad_token_id=ids[ENDOFTEXT],
    )
    parameters = {
        "total": count_parameters(model),
        "vision": count_parameters(model.model.visual),
        "language": count_parameters(model.model.language_model),
        "lm_head": count_parameters(model.lm_head),
    }
    with staged_folder(out) as folder:
        model.save_pretrained(folder, safe_serialization=True)
        processor.save_pretrained(folder)
        write_build_info(
            folder,
            {
                "kind": "tiny-thinker",
                "architecture": type(model).__name__,
                "mirrors": HUB_ID,
                "tiny": cfg.model_dump(mode="json"),
                "parameters": parameters,
                "tokenizer": {
                    "bpe_vocab_size": bpe.size,
                    "tokenizer_size": len(tokenizer),
                    "embedding_rows": config.text_config.vocab_size,
                    "plan_tag_ids": token_ids(tokenizer, PLAN_TAGS),
                },
                "image_processor": {"min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS},
            },
        )
    return {
        "parameters": parameters["total"],
        "vision_parameters": parameters["vision"],
        "language_parameters": parameters["language"],
        "tokenizer_size": len(tokenizer),
        "embedding_rows": config.text_config.vocab_size,
        "bytes": folder_bytes(out),
    }


def load_thinker(
    path_or_id: str | Path,
    revision: str | None = None,
    dtype: torch.dtype | str = "auto",
) -> PreTrainedModel:
    """Load the thinker base (tiny folder or hub id) as a ``Qwen3VLForConditionalGeneration``.

    ``dtype="auto"`` keeps the stored dtype (float32 tiny, bfloat16 hub). Safetensors only: a
    folder with nothing but pickle weights raises :class:`~aesformer.errors.InputError`.
    """
    if is_local(path_or_id):
        require_safetensors(Path(path_or_id))
    return AutoModelForImageTextToText.from_pretrained(
        str(path_or_id), dtype=dtype, use_safetensors=True, **revision_kwargs(revision)
    )


def load_thinker_processor(
    path_or_id: str | Path,
    revision: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> Qwen3VLImageOnlyProcessor:
    """Load the thinker's processor (tokenizer + image processor + chat template).

    ``min_pixels``/``max_pixels`` override the image size bounds of the stored image processor
    (the hub default allows up to 4096x4096 px); they are written into its ``size`` dict, which is
    what the processor reads.
    """
    processor = Qwen3VLImageOnlyProcessor.from_pretrained(
        str(path_or_id), **revision_kwargs(revision)
    )
    if min_pixels is not None or max_pixels is not None:
        size = processor.image_processor.size
        lower = size.shortest_edge if min_pixels is None else min_pixels
        upper = size.longest_edge if max_pixels is None else max_pixels
        if not 0 < lower <= upper:
            raise ValueError(f"need 0 < min_pixels <= max_pixels, got {lower}, {upper}")
        processor.image_processor.size = SizeDict(shortest_edge=lower, longest_edge=upper)
    return processor
