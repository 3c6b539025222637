"""The tiny BPE tokenizer: exact size, Qwen id layout, single-id plan tags, chat templates."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from aesformer.errors import ConfigError
from aesformer.zoo.tokenizer import (
    IM_END,
    IMAGE_PAD,
    PLAN_DIMENSIONS,
    PLAN_TAGS,
    QWEN_ADDED_TOKENS,
    QWEN_SPECIAL_TOKENS,
    BpeModel,
    add_plan_tags,
    build_tokenizer,
    embedding_rows,
    token_ids,
    train_bpe,
    training_corpus,
)

pytestmark = pytest.mark.unit

VOCAB = 1024


@pytest.fixture(scope="module")
def bpe() -> BpeModel:
    return train_bpe(VOCAB)


@pytest.fixture(scope="module")
def thinker_tokenizer(bpe: BpeModel):
    return build_tokenizer(bpe, "qwen3_vl")


@pytest.fixture(scope="module")
def editor_tokenizer(bpe: BpeModel):
    return build_tokenizer(bpe, "qwen2_5_vl")


def test_plan_tags_cover_the_seven_dimensions() -> None:
    assert len(PLAN_DIMENSIONS) == 7
    assert len(PLAN_TAGS) == 14
    assert PLAN_TAGS[:2] == ("<Ratio>", "</Ratio>")
    assert PLAN_TAGS[-2:] == ("<Color>", "</Color>")


def test_corpus_is_deterministic_and_holds_tagged_plans() -> None:
    corpus = training_corpus()
    assert corpus == training_corpus()
    assert any(all(tag in text for tag in PLAN_TAGS) for text in corpus)


def test_bpe_has_exactly_the_requested_size(bpe: BpeModel) -> None:
    assert bpe.size == VOCAB
    assert len(bpe.merges) == VOCAB - 256  # the byte alphabet plus one token per merge
    assert sorted(bpe.vocab.values()) == list(range(VOCAB))


def test_bpe_training_is_deterministic(bpe: BpeModel) -> None:
    assert train_bpe(VOCAB) == bpe


def test_too_large_vocabulary_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"models\.thinker\.tiny\.vocab_size"):
        train_bpe(50_000)


def test_added_tokens_follow_the_bpe_vocabulary_in_qwen_order(thinker_tokenizer) -> None:
    specials = token_ids(thinker_tokenizer, QWEN_SPECIAL_TOKENS)
    assert list(specials.values()) == list(range(VOCAB, VOCAB + len(QWEN_SPECIAL_TOKENS)))
    added = token_ids(thinker_tokenizer, QWEN_ADDED_TOKENS["qwen3_vl"])
    start = VOCAB + len(QWEN_SPECIAL_TOKENS)
    assert list(added.values()) == list(range(start, start + len(added)))
    tags = token_ids(thinker_tokenizer, PLAN_TAGS)
    assert list(tags.values()) == list(range(start + len(added), len(thinker_tokenizer)))


def test_eos_and_pad_are_the_instruct_ones(thinker_tokenizer) -> None:
    assert thinker_tokenizer.eos_token == IM_END
    assert thinker_tokenizer.pad_token == "<|endoftext|>"
    assert IMAGE_PAD in thinker_tokenizer.all_special_tokens


@pytest.mark.parametrize("tag", PLAN_TAGS)
def test_each_plan_tag_is_one_id(thinker_tokenizer, tag: str) -> None:
    ids = thinker_tokenizer(f"x{tag}y", add_special_tokens=False).input_ids
    assert token_ids(thinker_tokenizer, [tag])[tag] in ids
    assert len(thinker_tokenizer(tag, add_special_tokens=False).input_ids) == 1


def test_plan_tags_survive_decoding_without_special_tokens(thinker_tokenizer) -> None:
    plan = "<Ratio>Crop to 4:3.</Ratio><Color>Warm the white balance.</Color>"
    ids = thinker_tokenizer(plan + IM_END).input_ids
    assert thinker_tokenizer.decode(ids, skip_special_tokens=True) == plan


def test_plan_words_are_learned_after_a_tag(thinker_tokenizer) -> None:
    pieces = thinker_tokenizer.tokenize("<Ratio>Crop to 4:3</Ratio>")
    assert pieces[:2] == ["<Ratio>", "Crop"]


def test_add_plan_tags_is_idempotent(thinker_tokenizer) -> None:
    size = len(thinker_tokenizer)
    ids = add_plan_tags(thinker_tokenizer)
    assert len(thinker_tokenizer) == size
    assert ids == list(token_ids(thinker_tokenizer, PLAN_TAGS).values())


def test_editor_flavour_is_qwen2_5_vl(editor_tokenizer) -> None:
    assert len(editor_tokenizer) == VOCAB + len(QWEN_SPECIAL_TOKENS) + len(
        QWEN_ADDED_TOKENS["qwen2_5_vl"]
    )
    with pytest.raises(KeyError):
        token_ids(editor_tokenizer, ["<think>"])
    with pytest.raises(KeyError):
        token_ids(editor_tokenizer, ["<Ratio>"])


def test_qwen3_template_renders_images_and_no_default_system(thinker_tokenizer) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "Plan the edit."}],
        }
    ]
    text = thinker_tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert text == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Plan the edit.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_qwen3_template_system_assistant_and_vision_ids(thinker_tokenizer) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "image"}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "<Ratio>1:1</Ratio>"}]},
    ]
    text = thinker_tokenizer.apply_chat_template(messages, tokenize=False, add_vision_id=True)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n"
        "Picture 1: <|vision_start|><|image_pad|><|vision_end|>"
        "Picture 2: <|vision_start|><|image_pad|><|vision_end|><|im_end|>\n"
        "<|im_start|>assistant\n<Ratio>1:1</Ratio><|im_end|>\n"
    )


def test_qwen2_5_template_inserts_the_default_system(editor_tokenizer) -> None:
    text = editor_tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")


def test_unknown_role_is_rejected(thinker_tokenizer) -> None:
    with pytest.raises(Exception, match="unsupported role"):
        thinker_tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


def test_save_load_round_trip(thinker_tokenizer, tmp_path) -> None:
    thinker_tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "<|im_start|>user\n<Focus>the nearest eye</Focus><|im_end|>"
    assert type(loaded).__name__ == "Qwen2Tokenizer"
    assert loaded(text).input_ids == thinker_tokenizer(text).input_ids
    assert loaded.chat_template == thinker_tokenizer.chat_template
    assert loaded.eos_token == IM_END


def test_embedding_rows_pad_like_qwen() -> None:
    assert embedding_rows(151_669) == 151_680
    assert embedding_rows(2088) == 2176
    assert embedding_rows(128) == 128
