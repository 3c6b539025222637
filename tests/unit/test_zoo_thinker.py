"""The tiny Qwen3-VL thinker: built once, then loaded and run like the hub checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import Qwen3VLForConditionalGeneration

from aesformer.config import TinyThinkerConfig
from aesformer.errors import ConfigError, InputError
from aesformer.zoo import load_thinker, load_thinker_processor
from aesformer.zoo.processors import Qwen3VLImageOnlyProcessor
from aesformer.zoo.thinker import HUB_ID, build_thinker, mrope_section, thinker_config
from aesformer.zoo.tokenizer import CONFIG_TOKENS, PLAN_TAGS, build_tokenizer, token_ids, train_bpe

pytestmark = pytest.mark.unit

CFG = TinyThinkerConfig()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("models") / "thinker"
    stats = build_thinker(CFG, train_bpe(CFG.vocab_size), out)
    return out, stats


@pytest.fixture(scope="module")
def model(built) -> Qwen3VLForConditionalGeneration:
    return load_thinker(built[0])


@pytest.fixture(scope="module")
def processor(built) -> Qwen3VLImageOnlyProcessor:
    return load_thinker_processor(built[0])


def _inputs(processor: Qwen3VLImageOnlyProcessor, size: tuple[int, int] = (96, 64)):
    messages = [
        {"role": "system", "content": "You are AesThinker."},
        {
            "role": "user",
            "content": [
                {"type": "image", "image": Image.new("RGB", size, (180, 90, 40))},
                {"type": "text", "text": "Plan how to retake this photo."},
            ],
        },
    ]
    return processor.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=True, return_dict=True, return_tensors="pt"
    )


def test_folder_layout_is_the_hub_one(built) -> None:
    out, _ = built
    names = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "processor_config.json",
        "build_info.json",
    } <= names
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth"))]


def test_config_keeps_the_real_structure(model) -> None:
    config = model.config
    assert config.model_type == "qwen3_vl"
    vision = config.vision_config
    assert (vision.patch_size, vision.spatial_merge_size, vision.temporal_patch_size) == (16, 2, 2)
    assert vision.deepstack_visual_indexes == [0, 1]
    assert vision.out_hidden_size == config.text_config.hidden_size == CFG.hidden_size
    rope = config.text_config.rope_parameters
    assert rope["mrope_interleaved"] is True
    assert sum(rope["mrope_section"]) == config.text_config.head_dim // 2


def test_model_sizes_follow_the_config(model) -> None:
    text = model.config.text_config
    assert (text.hidden_size, text.intermediate_size) == (CFG.hidden_size, CFG.intermediate_size)
    assert text.num_hidden_layers == CFG.num_hidden_layers
    assert (text.num_attention_heads, text.num_key_value_heads) == (4, 2)
    assert len(model.model.visual.blocks) == CFG.vision_depth
    assert model.model.visual.config.hidden_size == CFG.vision_hidden_size


def test_vocabulary_rows_cover_the_tokenizer(model, processor) -> None:
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows == model.config.text_config.vocab_size
    assert rows >= len(processor.tokenizer)
    assert rows % 128 == 0


def test_token_ids_match_the_tokenizer(model, processor) -> None:
    ids = token_ids(processor.tokenizer, CONFIG_TOKENS)
    assert model.config.image_token_id == ids["<|image_pad|>"]
    assert model.config.video_token_id == ids["<|video_pad|>"]
    assert model.config.vision_start_token_id == ids["<|vision_start|>"]
    assert model.config.vision_end_token_id == ids["<|vision_end|>"]
    assert model.generation_config.eos_token_id == [ids["<|im_end|>"], ids["<|endoftext|>"]]


def test_forward_with_image_and_chat_template(model, processor) -> None:
    inputs = _inputs(processor)
    t, h, w = inputs["image_grid_thw"][0].tolist()
    assert (t, h, w) == (1, 4, 6)  # 64x96 px in 16 px patches
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) == h * w // 4
    with torch.no_grad():
        logits = model(**inputs).logits
    assert logits.shape == (1, inputs["input_ids"].shape[1], model.config.text_config.vocab_size)
    assert torch.isfinite(logits).all()


def test_generate_a_few_tokens(model, processor) -> None:
    inputs = _inputs(processor)
    out = model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= inputs["input_ids"].shape[1] + 4
    assert out.shape[1] > inputs["input_ids"].shape[1]
    assert isinstance(processor.batch_decode(out[:, inputs["input_ids"].shape[1] :])[0], str)


def test_plan_tags_are_single_ids(processor) -> None:
    for tag in PLAN_TAGS:
        assert len(processor.tokenizer(tag, add_special_tokens=False).input_ids) == 1


def test_save_load_round_trip_gives_identical_logits(model, processor, tmp_path: Path) -> None:
    inputs = _inputs(processor)
    model.save_pretrained(tmp_path, safe_serialization=True)
    processor.save_pretrained(tmp_path)
    reloaded = load_thinker(tmp_path)
    with torch.no_grad():
        assert torch.equal(model(**inputs).logits, reloaded(**inputs).logits)
    assert load_thinker_processor(tmp_path).tokenizer.get_vocab() == processor.tokenizer.get_vocab()


def test_processor_pixel_bounds_can_be_overridden(built) -> None:
    processor = load_thinker_processor(built[0], max_pixels=64 * 64)
    inputs = _inputs(processor, size=(256, 256))
    assert inputs["image_grid_thw"][0].tolist() == [1, 4, 4]
    with pytest.raises(ValueError, match="min_pixels"):
        load_thinker_processor(built[0], min_pixels=128 * 128, max_pixels=64 * 64)


def test_build_info(built, model) -> None:
    out, stats = built
    info = json.loads((out / "build_info.json").read_text())
    assert info["mirrors"] == HUB_ID
    assert info["tiny"] == CFG.model_dump(mode="json")
    assert info["parameters"]["total"] == stats["parameters"] == model.num_parameters()
    assert info["tokenizer"]["tokenizer_size"] == stats["tokenizer_size"]
    assert info["tokenizer"]["embedding_rows"] >= info["tokenizer"]["tokenizer_size"]
    assert set(info["tokenizer"]["plan_tag_ids"]) == set(PLAN_TAGS)


def test_loader_refuses_pickle_weights(built, tmp_path: Path) -> None:
    folder = tmp_path / "pickled"
    shutil.copytree(built[0], folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(InputError, match="pickle"):
        load_thinker(folder)


def test_mrope_section_scales_the_real_split() -> None:
    assert mrope_section(128, (24, 20, 20)) == [24, 20, 20]
    assert mrope_section(16, (24, 20, 20)) == [4, 2, 2]
    with pytest.raises(ConfigError):
        mrope_section(4, (24, 20, 20))


def test_inconsistent_sizes_are_config_errors() -> None:
    tokenizer = build_tokenizer(train_bpe(512), "qwen3_vl")
    ids = token_ids(tokenizer, CONFIG_TOKENS)
    bad = TinyThinkerConfig(num_attention_heads=3, num_key_value_heads=2)
    with pytest.raises(ConfigError, match="models.thinker.tiny"):
        thinker_config(bad, len(tokenizer), ids)
