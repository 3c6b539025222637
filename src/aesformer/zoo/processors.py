"""Image-only Qwen processors: the stock ones without their video processor.

``Qwen3VLProcessor`` and ``Qwen2VLProcessor`` declare three sub-processors (image processor,
tokenizer, video processor). The video processors need torchvision, and without it even
constructing or loading the stock processors fails (``type object 'VIDEO_PROCESSOR_MAPPING' has
no attribute '_extra_content'``). Photos are all this project feeds the models, so these
subclasses declare only the image processor and the tokenizer: ``from_pretrained`` then loads
exactly those two from a tiny folder or from the hub checkpoints (``Qwen/Qwen3-VL-8B-Instruct``,
``Qwen/Qwen-Image-Edit-2511`` subfolder ``processor``), with the PIL image backend when
torchvision is absent. Text and image processing are the parents' code, unchanged; passing
``videos=`` raises ``TypeError``.
"""

from __future__ import annotations

from typing import Any

from transformers import (
    PreTrainedTokenizerBase,
    Qwen2VLImageProcessorPil,
    Qwen2VLProcessor,
    Qwen3VLProcessor,
)
from transformers.image_processing_utils import BaseImageProcessor


def _reject_videos(processor_name: str, videos: Any) -> None:
    if videos is not None:
        raise TypeError(f"{processor_name} is image-only: videos are not supported")


class Qwen3VLImageOnlyProcessor(Qwen3VLProcessor):
    """The Qwen3-VL processor (AesThinker) with an image processor and a tokenizer only."""

    def __init__(
        self,
        image_processor: BaseImageProcessor | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        chat_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    def __call__(
        self, images: Any = None, text: Any = None, videos: Any = None, **kwargs: Any
    ) -> Any:
        _reject_videos(type(self).__name__, videos)
        return super().__call__(images=images, text=text, **kwargs)


class Qwen2VLImageOnlyProcessor(Qwen2VLProcessor):
    """The Qwen2-VL processor of the Qwen-Image-Edit text encoder, image processor + tokenizer."""

    def __init__(
        self,
        image_processor: BaseImageProcessor | None = None,
        tokenizer: PreTrainedTokenizerBase | None = None,
        chat_template: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    def __call__(
        self, images: Any = None, text: Any = None, videos: Any = None, **kwargs: Any
    ) -> Any:
        _reject_videos(type(self).__name__, videos)
        return super().__call__(images=images, text=text, **kwargs)


def qwen_image_processor(
    *,
    patch_size: int,
    min_pixels: int,
    max_pixels: int,
    image_mean: tuple[float, float, float],
    image_std: tuple[float, float, float],
) -> Qwen2VLImageProcessorPil:
    """The PIL Qwen2-VL image processor (Qwen3-VL reuses it with ``patch_size=16``).

    Images are resized so both sides are multiples of ``patch_size * 2`` (the 2x2 spatial merge)
    and the pixel count lies in ``[min_pixels, max_pixels]``. The bounds are given as
    ``size={"shortest_edge": min_pixels, "longest_edge": max_pixels}``, the form the processor
    reads (the ``min_pixels``/``max_pixels`` call kwargs are deprecated).
    """
    factor = patch_size * 2
    if min_pixels < factor * factor or max_pixels < min_pixels:
        raise ValueError(
            f"need {factor * factor} <= min_pixels <= max_pixels, got {min_pixels}, {max_pixels}"
        )
    return Qwen2VLImageProcessorPil(
        patch_size=patch_size,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=list(image_mean),
        image_std=list(image_std),
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
    )
