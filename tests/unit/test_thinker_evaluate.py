"""Plan metrics of the SFT evaluation: format validity, change/no-change alignment, exact actions."""

from __future__ import annotations

import pytest

from aesformer.plans import NO_CHANGE, Plan, render
from aesformer.thinker.evaluate import action_exact, alignment, plan_metrics

REFERENCE = Plan(
    aspect_ratio="Use a vertical 3:4 portrait ratio",
    composition=NO_CHANGE,
    camera="Raise the camera",
    position=NO_CHANGE,
    pose=NO_CHANGE,
    focus=NO_CHANGE,
    color="Warm the overall tone",
)


def test_identical_plan_scores_one():
    text = render(REFERENCE)
    assert plan_metrics([text], [text]) == {
        "format_validity": 1.0,
        "alignment": 1.0,
        "action_exact": 1.0,
        "examples": 1,
    }


def test_alignment_compares_change_decisions_not_wording():
    other = REFERENCE.model_copy(update={"camera": "Lower the camera", "color": NO_CHANGE})
    assert alignment(render(other), render(REFERENCE)) == pytest.approx(6 / 7)
    assert action_exact(render(other), render(REFERENCE)) == pytest.approx(5 / 7)


def test_missing_dimensions_disagree_and_break_the_format():
    partial = "\n".join(render(REFERENCE).splitlines()[:3])
    metrics = plan_metrics([partial, "nonsense"], [render(REFERENCE)] * 2)
    assert metrics["format_validity"] == 0.0
    assert metrics["alignment"] == pytest.approx((3 / 7 + 0) / 2)


def test_mismatched_lengths_are_an_error():
    with pytest.raises(ValueError):
        plan_metrics(["a"], [])
