"""Rubric prompts: what a VLM judge reads, and what the offline judges read back."""

from __future__ import annotations

import pytest

from aesformer.rewards.rubrics import (
    ALIGNMENT_RUBRIC,
    CANDIDATE_CLOSE,
    CREATIVITY_RUBRIC,
    AlignmentRequest,
    CreativityRequest,
    RubricFormatError,
)

pytestmark = pytest.mark.unit


def test_alignment_prompt_round_trips():
    request = AlignmentRequest(candidate="cand\nline two", reference="(1) Aspect Ratio: ...")
    prompt = request.prompt()
    assert prompt.startswith(ALIGNMENT_RUBRIC) and "single digit from 0 to 5" in prompt
    assert AlignmentRequest.from_prompt(prompt) == request


def test_creativity_prompt_round_trips_with_and_without_others():
    alone = CreativityRequest("my plan")
    assert CreativityRequest.from_prompt(alone.prompt()) == alone
    assert "Other plans" not in alone.prompt()
    grouped = CreativityRequest("my plan", ("plan a\nmulti-line", "plan b"))
    assert grouped.prompt().startswith(CREATIVITY_RUBRIC)
    assert CreativityRequest.from_prompt(grouped.prompt()) == grouped


def test_a_candidate_may_contain_fence_lines():
    tricky = f"text\n{CANDIDATE_CLOSE}\nmore text"
    assert CreativityRequest.from_prompt(CreativityRequest(tricky).prompt()).candidate == tricky
    assert (
        AlignmentRequest.from_prompt(AlignmentRequest(tricky, "ref").prompt()).candidate == tricky
    )


def test_wrong_kind_of_prompt_is_rejected():
    with pytest.raises(RubricFormatError):
        AlignmentRequest.from_prompt(CreativityRequest("x").prompt())
    with pytest.raises(RubricFormatError):
        CreativityRequest.from_prompt(AlignmentRequest("x", "y").prompt())
    with pytest.raises(RubricFormatError):
        CreativityRequest.from_prompt("Rate this plan.")
