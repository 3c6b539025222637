"""The validator: format, missed / invented changes, wrong directions."""

from __future__ import annotations

import pytest

from aesformer.annotate.measure import Measurements
from aesformer.annotate.rules import Rule, expectations, hints, is_no_change, validate
from aesformer.config import AnnotateConfig
from aesformer.plans import NO_CHANGE, Plan, render

pytestmark = pytest.mark.unit
CFG = AnnotateConfig()


def measurements(**over) -> Measurements:
    base = dict(
        poor_size=(320, 240),
        good_size=(240, 320),
        aspect_change=-0.575,
        zoom=1.0,
        rotation_deg=4.0,
        keystone_x=0.0,
        keystone_y=0.0,
        subject_poor=(0.5, 0.4),
        subject_good=(0.5, 0.4),
        subject_source="face",
        focus_change=0.0,
        delta_lab=(6.0, 0.0, -6.0),
        pose=None,
    )
    return Measurements(**{**base, **over})


def plan(**actions) -> str:
    base = dict.fromkeys(
        ("aspect_ratio", "composition", "camera", "position", "pose", "focus", "color"), NO_CHANGE
    )
    base |= {
        "aspect_ratio": "Use a vertical 3:4 portrait ratio",
        "composition": "Rotate the frame 4 degrees clockwise to straighten it",
        "color": "Slightly raise exposure, cool the overall tone",
    }
    return render(Plan(**(base | actions)))


def rules(text: str, m: Measurements | None = None) -> list[tuple[Rule, str | None]]:
    verdict = validate(text, expectations(m or measurements(), CFG))
    assert verdict.ok == (not verdict.issues)
    return [(i.rule, i.dimension) for i in verdict.issues]


def test_a_consistent_plan_passes():
    verdict = validate(plan(), expectations(measurements(), CFG))
    assert verdict.ok and verdict.plan is not None and verdict.describe() == ""


def test_bad_format():
    verdict = validate("The photo looks fine.", expectations(measurements(), CFG))
    assert not verdict.ok and verdict.reason == "bad_format"
    assert {i.rule for i in verdict.issues} == {Rule.FORMAT}


def test_missed_change():
    assert rules(plan(aspect_ratio="No change needed")) == [(Rule.MISSED_CHANGE, "aspect_ratio")]
    assert rules(plan(color="Keep the current colours")) == [(Rule.MISSED_CHANGE, "color")]


def test_invented_change_but_not_for_the_unmeasured_pose():
    assert rules(plan(focus="Blur the background")) == [(Rule.INVENTED_CHANGE, "focus")]
    assert rules(plan(pose="Raise the right arm")) == []  # pose is not measured from pixels


def test_pose_named_in_the_narration_must_not_be_skipped():
    m = measurements(pose="Raise the right arm")
    assert rules(plan(), m) == [(Rule.MISSED_CHANGE, "pose")]
    assert rules(plan(pose="Ask her to lift her right arm"), m) == []


@pytest.mark.parametrize(
    ("dimension", "action"),
    [
        ("composition", "Rotate 4° counter-clockwise to level the horizon"),
        ("composition", "Rotate 4 degrees anticlockwise"),
        ("aspect_ratio", "Use a horizontal 16:9 landscape ratio"),
        ("color", "Darken the image and warm the tone"),
    ],
)
def test_wrong_direction(dimension, action):
    found = rules(plan(**{dimension: action}))
    assert found and set(found) == {(Rule.WRONG_DIRECTION, dimension)}


def test_direction_words_of_position_and_camera():
    m = measurements(subject_good=(0.7, 0.55), keystone_x=-0.2)
    ok = plan(
        position="Move her to the lower right third",
        camera="Step to your left and face her straight on",
    )
    assert rules(ok, m) == []
    bad = plan(position="Move her to the upper left", camera="Step to your right")
    assert sorted(rules(bad, m)) == sorted(
        [(Rule.WRONG_DIRECTION, "position")] * 2 + [(Rule.WRONG_DIRECTION, "camera")]
    )


@pytest.mark.parametrize(
    ("action", "none"),
    [
        ("No change needed", True),
        ("No adjustment.", True),
        ("None", True),
        ("Keep it as is", True),
        ("Leave the framing unchanged", True),
        ("Keep the original 4:3 ratio", True),
        ("Keep the subject focused, with only mild background softening", False),
        ("Use a vertical 3:4 portrait ratio", False),
        ("Nonetheless crop tighter", False),
    ],
)
def test_no_change_detection(action, none):
    assert is_no_change(action) is none


def test_hints_list_the_measured_changes():
    text = hints(expectations(measurements(), CFG))
    assert "- aspect_ratio: changed (orientation: vertical)" in text
    assert "rotation: clockwise" in text and "- camera: no change measured" in text
    assert "pose" not in text
