"""AesEditor's base: Qwen-Image-Edit-Plus (``Qwen/Qwen-Image-Edit-2511``) or a tiny random one.

:func:`build_editor` writes a diffusers pipeline folder with the hub checkpoint's layout and
``model_index.json``: ``transformer/`` (``QwenImageTransformer2DModel`` with ``zero_cond_t``, as
2511 uses), ``vae/`` (``AutoencoderKLQwenImage``), ``text_encoder/`` (a tiny
``Qwen2_5_VLForConditionalGeneration``), ``tokenizer/``, ``processor/`` and ``scheduler/``
(``FlowMatchEulerDiscreteScheduler`` configured like Qwen-Image's), plus ``build_info.json``.
The transformer and text encoder have the sizes of diffusers' own QwenImageEditPlus tests; the VAE
keeps the real model's four levels (8x down-sampling, so output sides are multiples of 16 px as
with the real one). Two denoising steps at 64x64 px take about 0.3 s on a CPU.

:func:`load_editor_pipeline` loads that folder and the hub id with the same call:
``QwenImageEditPlusPipeline.from_pretrained(..., processor=<image-only processor>)``. The
``processor`` component is passed explicitly because the stock ``Qwen2VLProcessor`` the
``model_index.json`` names cannot be loaded without torchvision (see
:mod:`aesformer.zoo.processors`).

The stock pipeline resizes its input images to about 1024x1024 for the VAE and 384x384 for the
text encoder, from the module constants ``VAE_IMAGE_SIZE`` and ``CONDITION_IMAGE_SIZE`` of
``diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus``, and makes a 1024x1024-area output
unless ``height``/``width`` are given. :func:`edit_plus_resolution` sets those constants for the
duration of a ``with`` block; pass ``height``/``width`` to the call for the output size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImageEditPlusPipeline,
    QwenImageTransformer2DModel,
)
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from aesformer.config import TinyEditorConfig
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
from aesformer.zoo.processors import Qwen2VLImageOnlyProcessor, qwen_image_processor
from aesformer.zoo.thinker import mrope_section
from aesformer.zoo.tokenizer import (
    CONFIG_TOKENS,
    ENDOFTEXT,
    IM_END,
    IMAGE_PAD,
    QWEN2_5_VL_CHAT_TEMPLATE,
    VIDEO_PAD,
    VISION_END,
    VISION_START,
    BpeModel,
    build_tokenizer,
    embedding_rows,
    token_ids,
)

HUB_ID = "Qwen/Qwen-Image-Edit-2511"
#: Components whose weights the pipeline folder holds.
WEIGHT_COMPONENTS = ("transformer", "vae", "text_encoder")

# Text encoder (Qwen2.5-VL) of diffusers' QwenImageEditPlus tests; hidden size from the config.
TEXT_LAYERS = 2
TEXT_HEADS = 2
TEXT_KV_HEADS = 2
TEXT_ROPE_THETA = 1_000_000.0
#: Qwen2.5-VL-7B's ``mrope_section`` (t, h, w) for a 128-dim head; scaled to the tiny head size.
TEXT_MROPE_PROPORTIONS = (16, 24, 24)
VISION_DEPTH = 2
VISION_HIDDEN_SIZE = 16
VISION_HEADS = 2
#: Qwen2.5-VL uses full attention in every 8th vision block and windowed attention elsewhere.
VISION_FULL_ATTENTION_EVERY = 8
#: The text encoder's processor: Qwen2-VL image processor, 14 px patches, CLIP normalisation.
PROCESSOR_PATCH_SIZE = 14
PROCESSOR_MIN_PIXELS = 56 * 56
PROCESSOR_MAX_PIXELS = 224 * 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# VAE levels of the real model (diffusers' tests use three): 8x spatial down-sampling.
VAE_DIM_MULT = (1, 2, 4, 4)
VAE_RES_BLOCKS = 1
VAE_TEMPORAL_DOWNSAMPLE = (False, True, True)
#: ``scheduler/scheduler_config.json`` of the Qwen-Image family.
SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 0.9,
    "base_image_seq_len": 256,
    "max_image_seq_len": 8192,
    "shift_terminal": 0.02,
    "time_shift_type": "exponential",
    "invert_sigmas": False,
    "stochastic_sampling": False,
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
}
#: The Plus pipeline's stock text-encoder input area (``CONDITION_IMAGE_SIZE``), in pixels.
STOCK_CONDITION_IMAGE_AREA = 384 * 384


def _check(cfg: TinyEditorConfig) -> None:
    # joint_attention_dim == text_hidden_size is enforced by TinyEditorConfig itself
    problems = []
    if cfg.attention_head_dim % 8:
        problems.append("attention_head_dim must be a multiple of 8 (3-axis RoPE)")
    if cfg.text_hidden_size % TEXT_HEADS:
        problems.append(f"text_hidden_size must be a multiple of {TEXT_HEADS}")
    if problems:
        raise ConfigError("; ".join(f"models.editor.tiny: {p}" for p in problems))


def rope_axes(attention_head_dim: int) -> tuple[int, int, int]:
    """RoPE dimensions (frame, height, width) of a head, split as diffusers' tests split 16."""
    return (attention_head_dim // 2, attention_head_dim // 4, attention_head_dim // 4)


def editor_transformer(cfg: TinyEditorConfig) -> QwenImageTransformer2DModel:
    """Random ``QwenImageTransformer2DModel``: 2x2 patches of ``z_dim`` latents, ``zero_cond_t``."""
    return QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=cfg.z_dim * 4,
        out_channels=cfg.z_dim,
        num_layers=cfg.num_layers,
        attention_head_dim=cfg.attention_head_dim,
        num_attention_heads=cfg.num_attention_heads,
        joint_attention_dim=cfg.joint_attention_dim,
        guidance_embeds=False,
        axes_dims_rope=rope_axes(cfg.attention_head_dim),
        zero_cond_t=True,
    )


def editor_vae(cfg: TinyEditorConfig) -> AutoencoderKLQwenImage:
    """Random ``AutoencoderKLQwenImage`` with identity latent normalisation."""
    return AutoencoderKLQwenImage(
        base_dim=cfg.vae_base_dim,
        z_dim=cfg.z_dim,
        dim_mult=list(VAE_DIM_MULT),
        num_res_blocks=VAE_RES_BLOCKS,
        temperal_downsample=list(VAE_TEMPORAL_DOWNSAMPLE),
        latents_mean=[0.0] * cfg.z_dim,
        latents_std=[1.0] * cfg.z_dim,
    )


def text_encoder_config(
    cfg: TinyEditorConfig, tokenizer_size: int, ids: dict[str, int]
) -> Qwen2_5_VLConfig:
    """The tiny Qwen2.5-VL config whose hidden states condition the transformer."""
    head_dim = cfg.text_hidden_size // TEXT_HEADS
    return Qwen2_5_VLConfig(
        text_config={
            "vocab_size": embedding_rows(tokenizer_size),
            "hidden_size": cfg.text_hidden_size,
            "intermediate_size": cfg.text_hidden_size,
            "num_hidden_layers": TEXT_LAYERS,
            "num_attention_heads": TEXT_HEADS,
            "num_key_value_heads": TEXT_KV_HEADS,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": TEXT_ROPE_THETA,
                "mrope_section": mrope_section(head_dim, TEXT_MROPE_PROPORTIONS),
            },
            "bos_token_id": ids[ENDOFTEXT],
            "eos_token_id": ids[IM_END],
            "pad_token_id": ids[ENDOFTEXT],
        },
        vision_config={
            "depth": VISION_DEPTH,
            "hidden_size": VISION_HIDDEN_SIZE,
            "intermediate_size": VISION_HIDDEN_SIZE,
            "num_heads": VISION_HEADS,
            "out_hidden_size": cfg.text_hidden_size,
            "patch_size": PROCESSOR_PATCH_SIZE,
            "fullatt_block_indexes": [
                i
                for i in range(VISION_DEPTH)
                if (i + 1) % VISION_FULL_ATTENTION_EVERY == 0 or i == VISION_DEPTH - 1
            ],
        },
        image_token_id=ids[IMAGE_PAD],
        video_token_id=ids[VIDEO_PAD],
        vision_start_token_id=ids[VISION_START],
        vision_end_token_id=ids[VISION_END],
        tie_word_embeddings=False,
    )


def build_editor(cfg: TinyEditorConfig, bpe: BpeModel, out: Path) -> dict[str, Any]:
    """Build the tiny Qwen-Image-Edit-Plus pipeline into ``out`` (replaced atomically)."""
    _check(cfg)
    tokenizer = build_tokenizer(bpe, "qwen2_5_vl")
    ids = token_ids(tokenizer, CONFIG_TOKENS)
    processor = Qwen2VLImageOnlyProcessor(
        image_processor=qwen_image_processor(
            patch_size=PROCESSOR_PATCH_SIZE,
            min_pixels=PROCESSOR_MIN_PIXELS,
            max_pixels=PROCESSOR_MAX_PIXELS,
            image_mean=CLIP_MEAN,
            image_std=CLIP_STD,
        ),
        tokenizer=tokenizer,
        chat_template=QWEN2_5_VL_CHAT_TEMPLATE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        transformer = editor_transformer(cfg)
        torch.manual_seed(cfg.seed)
        vae = editor_vae(cfg)
        torch.manual_seed(cfg.seed)
        text_encoder = Qwen2_5_VLForConditionalGeneration(
            text_encoder_config(cfg, len(tokenizer), ids)
        ).eval()
    pipe = QwenImageEditPlusPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        processor=processor,
        transformer=transformer,
    )
    # model_index.json names the stock processor class, exactly as the hub checkpoint does.
    pipe.register_to_config(processor=("transformers", "Qwen2VLProcessor"))
    parameters = {
        "transformer": count_parameters(transformer),
        "vae": count_parameters(vae),
        "text_encoder": count_parameters(text_encoder),
    }
    prompt_prefix = pipe.prompt_template_encode.split("{}")[0]
    with staged_folder(out) as folder:
        pipe.save_pretrained(folder, safe_serialization=True)
        write_build_info(
            folder,
            {
                "kind": "tiny-editor",
                "architecture": type(pipe).__name__,
                "mirrors": HUB_ID,
                "tiny": cfg.model_dump(mode="json"),
                "parameters": {**parameters, "total": sum(parameters.values())},
                "tokenizer": {
                    "bpe_vocab_size": bpe.size,
                    "tokenizer_size": len(tokenizer),
                    "embedding_rows": text_encoder.config.text_config.vocab_size,
                    # The pipeline drops this many leading hidden states (the system prompt with
                    # the real tokenizer); the tiny tokenizer encodes that prefix to more tokens.
                    "prompt_template_drop_tokens": pipe.prompt_template_encode_start_idx,
                    "prompt_template_prefix_tokens": len(tokenizer(prompt_prefix).input_ids),
                },
                "vae_scale_factor": pipe.vae_scale_factor,
            },
        )
    return {
        "parameters": sum(parameters.values()),
        **{f"{name}_parameters": n for name, n in parameters.items()},
        "bytes": folder_bytes(out),
    }


def load_editor_processor(
    path_or_id: str | Path, revision: str | None = None
) -> Qwen2VLImageOnlyProcessor:
    """The pipeline's ``processor`` component (subfolder ``processor``), image-only."""
    return Qwen2VLImageOnlyProcessor.from_pretrained(
        str(path_or_id), subfolder="processor", **revision_kwargs(revision)
    )


def load_editor_pipeline(
    path_or_id: str | Path,
    revision: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> QwenImageEditPlusPipeline:
    """Load the editor base (tiny folder or hub id) as a ``QwenImageEditPlusPipeline``.

    Use ``dtype=torch.bfloat16`` for the real model on a GPU. Safetensors only: a folder whose
    components hold nothing but pickle weights raises :class:`~aesformer.errors.InputError`.
    """
    if is_local(path_or_id):
        require_safetensors(Path(path_or_id), WEIGHT_COMPONENTS)
    return QwenImageEditPlusPipeline.from_pretrained(
        str(path_or_id),
        processor=load_editor_processor(path_or_id, revision),
        dtype=dtype,
        use_safetensors=True,
        **revision_kwargs(revision),
    )


_RESOLUTION_LOCK = threading.RLock()


@contextmanager
def edit_plus_resolution(vae_area: int, condition_area: int | None = None) -> Iterator[None]:
    """Run ``QwenImageEditPlusPipeline`` calls inside the block at a chosen input resolution.

    Input images are resized (keeping their aspect ratio, sides rounded to multiples of 32) to
    about ``vae_area`` pixels for the VAE latents and ``condition_area`` pixels (default: the
    smaller of ``vae_area`` and the stock 384x384) for the text encoder. The stock values are
    restored on exit. The constants are module globals: the block holds a lock so that two
    threads do not interleave, but a pipeline called in another thread without this context
    manager also sees the changed values. The output size is the call's ``height``/``width``::

        with edit_plus_resolution(64 * 64):
            image = pipe(image=[photo], prompt=plan, height=64, width=64).images[0]
    """
    condition = (
        min(vae_area, STOCK_CONDITION_IMAGE_AREA) if condition_area is None else condition_area
    )
    if vae_area < 32 * 32 or condition < 32 * 32:
        raise ValueError(f"image areas must be at least 32x32 px, got {vae_area}, {condition}")
    module = pipeline_qwenimage_edit_plus
    with _RESOLUTION_LOCK:
        saved = (module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE)
        module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE = vae_area, condition
        try:
            yield
        finally:
            module.VAE_IMAGE_SIZE, module.CONDITION_IMAGE_SIZE = saved
