"""Image-only Qwen processors: constructible, savable and loadable without torchvision."""

from __future__ import annotations

import pytest
from PIL import Image

from aesformer.zoo.processors import (
    Qwen2VLImageOnlyProcessor,
    Qwen3VLImageOnlyProcessor,
    qwen_image_processor,
)
from aesformer.zoo.tokenizer import QWEN3_VL_CHAT_TEMPLATE, build_tokenizer, train_bpe

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(train_bpe(512), "qwen3_vl")


def _image_processor(patch_size: int = 16):
    return qwen_image_processor(
        patch_size=patch_size,
        min_pixels=32 * 32,
        max_pixels=128 * 128,
        image_mean=(0.5, 0.5, 0.5),
        image_std=(0.5, 0.5, 0.5),
    )


def test_image_processor_resizes_to_merged_patch_multiples() -> None:
    out = _image_processor()(images=[Image.new("RGB", (100, 70))], return_tensors="np")
    t, h, w = out["image_grid_thw"][0]
    assert (t, h * 16 % 32, w * 16 % 32) == (1, 0, 0)
    assert h * w * 16 * 16 <= 128 * 128


def test_image_processor_keeps_the_pixel_bounds_in_size() -> None:
    size = _image_processor().size
    assert (size.shortest_edge, size.longest_edge) == (32 * 32, 128 * 128)


def test_image_processor_rejects_bounds_below_one_merged_patch() -> None:
    with pytest.raises(ValueError, match="min_pixels"):
        qwen_image_processor(
            patch_size=16,
            min_pixels=16 * 16,
            max_pixels=64 * 64,
            image_mean=(0.5, 0.5, 0.5),
            image_std=(0.5, 0.5, 0.5),
        )


@pytest.mark.parametrize("cls", [Qwen3VLImageOnlyProcessor, Qwen2VLImageOnlyProcessor])
def test_declares_only_image_processor_and_tokenizer(cls) -> None:
    assert cls.get_attributes() == ["image_processor", "tokenizer"]


@pytest.mark.parametrize("cls", [Qwen3VLImageOnlyProcessor, Qwen2VLImageOnlyProcessor])
def test_save_load_round_trip(cls, tokenizer, tmp_path) -> None:
    processor = cls(_image_processor(), tokenizer, chat_template=QWEN3_VL_CHAT_TEMPLATE)
    processor.save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path)
    assert loaded.chat_template == QWEN3_VL_CHAT_TEMPLATE
    assert loaded.image_processor.to_dict() == processor.image_processor.to_dict()
    assert len(loaded.tokenizer) == len(tokenizer)


def test_expands_image_pads_to_the_merged_patch_count(tokenizer) -> None:
    processor = Qwen3VLImageOnlyProcessor(_image_processor(), tokenizer)
    out = processor(
        images=[Image.new("RGB", (64, 96))],
        text=["<|vision_start|><|image_pad|><|vision_end|>Plan."],
        return_tensors="pt",
    )
    t, h, w = out["image_grid_thw"][0].tolist()
    pad = processor.image_token_id
    assert int((out["input_ids"] == pad).sum()) == t * h * w // 4
    assert out["pixel_values"].shape == (t * h * w, 3 * 2 * 16 * 16)


def test_videos_are_rejected(tokenizer) -> None:
    processor = Qwen3VLImageOnlyProcessor(_image_processor(), tokenizer)
    with pytest.raises(TypeError, match="image-only"):
        processor(
            text=["<|vision_start|><|video_pad|><|vision_end|>"],
            videos=[[Image.new("RGB", (32, 32))]],
        )
