"""GRPO warns when reference plans do not fit in a rollout (max_completion_length)."""

from __future__ import annotations

import logging

import pytest

from aesformer.thinker.grpo import check_completion_length, reference_lengths

pytestmark = pytest.mark.unit


class WordTokenizer:
    """A real (if simple) tokenizer: one id per whitespace-separated word."""

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": [hash(w) % 1000 for w in text.split()]}


def test_reference_lengths_count_the_end_token():
    rows = [{"plan": "a b c"}, {"plan": "one"}]
    assert reference_lengths(rows, WordTokenizer(), "plan") == [4, 2]


def test_plans_longer_than_a_rollout_are_counted_and_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="aesformer.thinker.grpo"):
        assert check_completion_length([200, 245, 230, 180], 224) == 2
    assert "2 of 4 reference plans" in caplog.text and "longest 245" in caplog.text


def test_plans_that_fit_are_silent(caplog):
    with caplog.at_level(logging.WARNING, logger="aesformer.thinker.grpo"):
        assert check_completion_length([200, 224], 224) == 0
    assert caplog.text == ""
