"""The logit judge: the digit math, response parsing, and a real forward pass on the tiny base."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aesformer.config import ModelsConfig
from aesformer.rewards.judges import (
    DIGITS,
    Judge,
    JudgeError,
    LogitJudge,
    TransformersTransport,
    digit_logprobs,
    expected_digit_score,
    to_pil,
)
from aesformer.rewards.rubrics import CreativityRequest
from aesformer.zoo.stage import THINKER_DIR, build_tiny

pytestmark = pytest.mark.unit


# --------------------------------------------------------------------------- the math
def test_uniform_logits_give_one_half():
    assert expected_digit_score(dict.fromkeys(DIGITS, 3.7)) == pytest.approx(0.5)


@pytest.mark.parametrize(("digit", "expected"), [("5", 1.0), ("0", 0.0), ("3", 0.6)])
def test_all_mass_on_one_digit(digit, expected):
    logits = {d: (50.0 if d == digit else -50.0) for d in DIGITS}
    assert expected_digit_score(logits) == pytest.approx(expected, abs=1e-9)


def test_only_digit_tokens_count():
    # "7" and "yes" are not on the 0..5 scale: ignored however large
    logits = {"4": 0.0, "5": 0.0, "7": 100.0, "yes": 100.0}
    assert expected_digit_score(logits) == pytest.approx(4.5 / 5)


def test_missing_digits_get_no_mass_and_logprobs_are_renormalised():
    # a server returned only "2" (p=0.3) and "4" (p=0.1) among its top logprobs
    score = expected_digit_score({"2": math.log(0.3), "4": math.log(0.1)})
    assert score == pytest.approx((2 * 0.75 + 4 * 0.25) / 5)
    # the same ratio as raw logits gives the same score (softmax is shift-invariant)
    assert expected_digit_score({"2": 10 + math.log(3), "4": 10.0}) == pytest.approx(score)
    assert expected_digit_score({"1": -math.inf, "3": 0.0}) == pytest.approx(3 / 5)


@pytest.mark.parametrize(
    "values", [{}, {"yes": 0.0}, {"0": -math.inf, "5": -math.inf}, {"2": math.nan, "3": 0.0}]
)
def test_no_usable_digit_is_a_judge_error(values):
    with pytest.raises(JudgeError):
        expected_digit_score(values)


def test_score_is_monotone_in_the_top_digit_logit():
    base = dict.fromkeys(DIGITS, 0.0)
    scores = [expected_digit_score({**base, "5": x}) for x in (-2.0, 0.0, 2.0, 4.0)]
    assert scores == sorted(scores) and all(0 <= s <= 1 for s in scores)


# --------------------------------------------------------------------------- responses
def _body(top: list[tuple[str, float]], token: str | None = None) -> dict:
    token, logprob = (token, dict(top)[token]) if token else top[0]
    return {
        "choices": [
            {
                "logprobs": {
                    "content": [
                        {
                            "token": token,
                            "logprob": logprob,
                            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in top],
                        }
                    ]
                }
            }
        ]
    }


def test_digit_logprobs_reads_chat_logprobs_and_merges_variants():
    body = _body([("4", math.log(0.5)), (" 4", math.log(0.1)), ("3", math.log(0.2)), ("The", -3)])
    values = digit_logprobs(body)
    assert set(values) == {"3", "4"}
    assert math.exp(values["4"]) == pytest.approx(0.6)
    assert expected_digit_score(values) == pytest.approx((4 * 0.6 + 3 * 0.2) / 0.8 / 5)


@pytest.mark.parametrize(
    "body",
    [{}, {"choices": []}, {"choices": [{"message": {"content": "4"}}]}, "not json", None],
)
def test_response_without_logprobs_is_a_judge_error(body):
    with pytest.raises(JudgeError, match="logprobs"):
        digit_logprobs(body)


def test_to_pil_caps_the_long_side_and_takes_rgb_arrays():
    arr = np.zeros((100, 400, 3), np.uint8)
    arr[..., 0] = 255
    img = to_pil(arr, max_side=200)
    assert img.size == (200, 50) and img.getpixel((0, 0)) == (255, 0, 0)
    assert to_pil(Image.new("L", (10, 20)), max_side=512).mode == "RGB"
    with pytest.raises(JudgeError):
        to_pil("photo.jpg")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- transformers
@pytest.fixture(scope="module")
def tiny_thinker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    build_tiny(ModelsConfig(), out)
    return out / THINKER_DIR


@pytest.fixture(scope="module")
def judge(tiny_thinker: Path) -> LogitJudge:
    transport = TransformersTransport(tiny_thinker, device="cpu", batch_size=3)
    return LogitJudge(transport, max_image_side=96)


def _photo(seed: int, size=(160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size[1], size[0], 3)) * 255).astype(np.uint8))


def test_transformers_transport_scores_a_real_forward_pass(judge):
    assert isinstance(judge, Judge)
    prompt = CreativityRequest("(1) Aspect Ratio: <Ratio>Use 3:4</Ratio>").prompt()
    first = judge.score([_photo(0)], prompt)
    assert 0.0 <= first <= 1.0
    assert judge.score([_photo(0)], prompt) == first  # deterministic
    assert judge.score([np.asarray(_photo(0))], prompt) == pytest.approx(first)  # RGB array
    values = judge.transport.digit_values([to_pil(_photo(0), 96)], prompt)
    assert set(values) == set(DIGITS) and expected_digit_score(values) == pytest.approx(first)


def test_batches_are_left_padded_and_match_single_scores(judge):
    items = [
        ([_photo(1)], "Score this plan."),
        ([], "A text-only rubric prompt that is much longer than the others, so it pads them."),
        ([_photo(2, (64, 200))], "Another plan."),
        ([_photo(3)], "A fourth prompt in a second batch."),
    ]
    batched = judge.score_batch(items)
    single = [judge.score(images, prompt) for images, prompt in items]
    assert batched == pytest.approx(single, abs=1e-5)


def test_a_bad_image_fails_only_its_item(judge):
    out = judge.score_batch([([_photo(1)], "ok"), (["not an image"], "bad")])
    assert isinstance(out[0], float) and isinstance(out[1], JudgeError)


def test_missing_model_folder_is_an_error(tmp_path):
    transport = TransformersTransport(tmp_path / "absent", device="cpu")
    with pytest.raises(OSError):
        transport.setup()
