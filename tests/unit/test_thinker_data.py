"""Stage1_a rows for TRL: loading, image sizes, and what the vision collator makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from aesformer.config import ModelsConfig
from aesformer.errors import InputError
from aesformer.plans import PLANNER_INSTRUCTION, format_ok
from aesformer.release import build_release
from aesformer.thinker.data import (
    FACTOR,
    build_dataset,
    build_rows,
    configure_processor,
    fit_size,
    image_tokens,
    load_examples,
    load_image,
)
from tests.unit.test_release_export import make_split

MIN_PIXELS, MAX_PIXELS = 32 * 32, 64 * 64


def build_tiny_thinker(out: Path) -> Path:
    """The tiny Qwen3-VL thinker base (what ``aesformer models build-tiny`` writes)."""
    from aesformer.zoo.thinker import build_thinker
    from aesformer.zoo.tokenizer import train_bpe

    cfg = ModelsConfig().thinker.tiny
    build_thinker(cfg, train_bpe(cfg.vocab_size), out)
    return out


def build_tiny_release(root: Path) -> Path:
    """A release of 8 pairs (4 train, 2 val, 2 test) with 128x96 images."""
    make_split(root / "split")
    build_release(root / "split", root / "release")
    return root / "release"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_thinker(tmp_path_factory.mktemp("base") / "thinker")


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return build_tiny_release(tmp_path_factory.mktemp("rel"))


@pytest.fixture(scope="module")
def processor(base):
    from aesformer.zoo import load_thinker_processor

    return configure_processor(load_thinker_processor(base), MIN_PIXELS, MAX_PIXELS)


@pytest.mark.parametrize(
    ("size", "bounds"),
    [((128, 96), (1024, 4096)), ((960, 540), (1024, 16384)), ((20, 10), (1024, 4096))],
)
def test_fit_size_multiples_of_32_within_bounds(size, bounds):
    w, h = fit_size(*size, *bounds)
    assert w % FACTOR == 0 and h % FACTOR == 0
    assert bounds[0] <= w * h <= bounds[1]


def test_fit_size_keeps_landscape_orientation():
    w, h = fit_size(960, 540, 1024, 128 * 128)
    assert w > h


def test_load_examples_strips_the_image_marker(release):
    train, val = load_examples(release, "train"), load_examples(release, "val")
    assert (len(train), len(val)) == (4, 2)
    for example in train + val:
        assert example.prompt == PLANNER_INSTRUCTION
        assert "<image>" not in example.prompt
        assert format_ok(example.plan)
        assert example.image.startswith("images/poor_images/")


def test_load_examples_missing_split_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_examples(tmp_path, "train")


def test_rows_are_prompt_completion_with_resized_images(release, processor):
    rows, counts = build_rows(release, "train", processor, MIN_PIXELS, MAX_PIXELS, 2048)
    assert counts["examples"] == 4 and counts["dropped_too_long"] == 0
    row = rows[0]
    assert set(row) == {"prompt", "completion", "images"}
    assert row["prompt"][0]["role"] == "user" and row["completion"][0]["role"] == "assistant"
    (image,) = row["images"]
    assert image.width % FACTOR == 0 and image.height % FACTOR == 0
    assert image.width * image.height <= MAX_PIXELS


def test_cutoff_drops_long_examples_and_never_truncates(release, processor):
    rows, counts = build_rows(release, "train", processor, MIN_PIXELS, MAX_PIXELS, 64)
    assert rows == [] and counts["dropped_too_long"] == 4
    with pytest.raises(InputError, match="cutoff_tokens"):
        build_dataset(release, "train", processor, MIN_PIXELS, MAX_PIXELS, 64)


def test_collator_image_tokens_match_and_loss_is_on_the_plan_only(release, processor):
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    dataset, counts = build_dataset(release, "train", processor, MIN_PIXELS, MAX_PIXELS, 2048)
    examples = [dataset[0], dataset[1]]
    plans = [e["completion"][0]["content"] for e in examples]
    collator = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    batch = collator(examples)
    tokenizer = processor.tokenizer
    image_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    merged = batch["image_grid_thw"].prod(dim=1) // 4  # 2x2 spatial merge
    for i in range(2):
        ids, labels = batch["input_ids"][i], batch["labels"][i]
        assert int((ids == image_id).sum()) == int(merged[i])  # image features == image tokens
        trained = labels != -100
        assert not bool(trained[ids == image_id].any())  # prompt (image included) is masked
        first = int(trained.nonzero()[0])
        assert tokenizer.decode(ids[:first]).endswith("<|im_start|>assistant\n")
        assert torch.equal(labels[trained], ids[trained])
        text = tokenizer.decode(labels[trained])
        assert text.startswith(plans[i]) and text.endswith("<|im_end|>\n")  # stop is trained
    assert counts["max_tokens"] >= batch["attention_mask"].sum(dim=1).max().item()


def test_image_tokens_of_a_loaded_image(tmp_path):
    path = tmp_path / "x.png"
    Image.new("RGB", (200, 100)).save(path)
    image = load_image(path, MIN_PIXELS, MAX_PIXELS)
    assert image_tokens(image) == (image.width // 32) * (image.height // 32)
