"""Structural changes: applicable subset, recorded values, narration consistent with them."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.corpus.camera import CameraParams
from aesformer.corpus.changes import (
    CHANGE_ORDER,
    DRAWERS,
    NUMBER_WORDS,
    Context,
    Shot,
    apply_changes,
    available_changes,
    distance_m,
    draw_changes,
    spoken_amount,
)
from aesformer.corpus.subject import FigureLook, SubjectSpec

pytestmark = pytest.mark.unit

FIGURE = SubjectSpec(
    "figure",
    "drawn",
    "him",
    1.7,
    FigureLook((150, 180, 224), (20, 24, 30), (40, 40, 200), (90, 60, 30), False),
)
CUTOUT = SubjectSpec("photo", "astronaut", "her", 0.9, None)
GOOD = Shot(
    CameraParams("3:4", subject_height=0.65, subject_x=0.3333, subject_y=0.52), "right_arm_raised"
)
CTX = Context(FIGURE, 864)


def _draw(name: str, seed: int, ctx: Context = CTX):
    return DRAWERS[name](np.random.default_rng(seed), GOOD, ctx)


def test_spoken_amounts() -> None:
    assert spoken_amount(0.5, "meter", "meters") == "half a meter"
    assert spoken_amount(1.0, "stop", "stops") == "one stop"
    assert spoken_amount(2.0, "meter", "meters") == "two meters"
    assert spoken_amount(1.5, "stop", "stops") == "one and a half stops"


def test_distance_shrinks_as_the_subject_grows() -> None:
    assert distance_m(0.3, 1.7) > distance_m(0.6, 1.7) > 0
    assert distance_m(0.6, 1.7) == pytest.approx(2 * distance_m(1.2, 1.7))


def test_pose_only_for_figures() -> None:
    assert "pose" in available_changes(FIGURE) and "pose" not in available_changes(CUTOUT)
    for seed in range(30):
        names = [
            c.name
            for c in draw_changes(
                np.random.default_rng(seed), Shot(GOOD.camera, None), Context(CUTOUT, 864)
            )
        ]
        assert "pose" not in names


def test_draw_changes_picks_two_to_five_in_order() -> None:
    counts = set()
    for seed in range(60):
        changes = draw_changes(np.random.default_rng(seed), GOOD, CTX)
        names = [c.name for c in changes]
        counts.add(len(names))
        assert names == sorted(names, key=CHANGE_ORDER.index) and len(set(names)) == len(names)
        for c in changes:
            assert set(c.poor) == set(c.good) and c.narration
            assert c.poor != c.good
    assert counts == {2, 3, 4, 5}


def test_apply_changes_sets_both_ends() -> None:
    changes = (_draw("focus", 0), _draw("tilt", 0), _draw("pose", 0))
    poor, good = apply_changes(GOOD, changes)
    assert good.camera.blur_sigma > 0 and poor.camera.blur_sigma == 0
    assert poor.camera.roll_deg != 0 and good.camera.roll_deg == 0
    assert poor.pose == "arms_down" and good.pose == "right_arm_raised"
    assert poor.camera.subject_x == good.camera.subject_x == GOOD.camera.subject_x


@pytest.mark.parametrize("seed", range(8))
def test_narration_matches_the_values(seed: int) -> None:
    tilt = _draw("tilt", seed)
    roll = tilt.poor["roll_deg"]
    assert ("counter-clockwise" in tilt.narration) == (roll > 0)
    assert f"about {NUMBER_WORDS[round(abs(roll))]} degrees" in tilt.narration

    zoom = _draw("zoom", seed)
    closer = zoom.poor["subject_height"] < zoom.good["subject_height"]
    assert ("closer" in zoom.narration) == closer and ("step back" in zoom.narration) == (
        not closer
    )
    assert zoom.detail["step_m"] >= 0.5
    assert "he is too small" in zoom.narration or not closer

    view = _draw("viewpoint", seed)
    if view.poor["pitch_deg"] < 0:
        assert "lower the camera" in view.narration
    if view.poor["pitch_deg"] > 0:
        assert "raise the camera" in view.narration
    if view.poor["yaw_deg"] > 0:
        assert "step to your left" in view.narration
    if view.poor["yaw_deg"] < 0:
        assert "step to your right" in view.narration

    pos = _draw("position", seed)
    assert abs(pos.poor["subject_x"] - pos.good["subject_x"]) >= 0.15 - 1e-9
    assert 0.15 <= pos.poor["subject_x"] <= 0.85
    assert "left third" in pos.narration

    exp = _draw("exposure", seed)
    if exp.poor["gain"] < 1:
        assert "raise the exposure" in exp.narration
    if exp.poor["gain"] > 1:
        assert "lower the exposure" in exp.narration
    if exp.poor["wb_shift"] < 0:
        assert "warm up" in exp.narration
    if exp.poor["wb_shift"] > 0:
        assert "cool down" in exp.narration

    aspect = _draw("aspect", seed)
    assert aspect.poor["aspect"] != "3:4" and "3:4" in aspect.narration


def test_pose_and_focus_narration() -> None:
    assert _draw("pose", 0).narration == "ask him to raise his right arm"
    focus = _draw("focus", 0)
    assert (
        "portrait mode" in focus.narration
        and 0.006 * 864 <= focus.good["blur_sigma"] <= 0.012 * 864
    )
