"""The geometric teacher's actions for pairs with known changes."""

from __future__ import annotations

import pytest

from aesformer.annotate.geometric import GeometricTeacher, geometric_plan, ratio_name
from aesformer.annotate.measure import measure_pair
from aesformer.annotate.rules import expectations, validate
from aesformer.annotate.subject import FaceOrSaliencyLocator
from aesformer.annotate.teacher import PlanRequest
from aesformer.config import AnnotateConfig
from aesformer.plans import NO_CHANGE, parse
from tests.annotate_pairs import Shot, keystone_warp, normalised_homography, record, source

pytestmark = pytest.mark.unit
CFG = AnnotateConfig()


@pytest.fixture(scope="module")
def photo():
    return source()


@pytest.fixture(scope="module")
def locator():
    return FaceOrSaliencyLocator()


def plan_for(photo, locator, poor: Shot, good: Shot, warp=None, narration=""):
    m = measure_pair(
        poor.render(photo),
        good.render(photo, warp),
        normalised_homography(poor, good, warp),
        narration,
        CFG,
        locator,
    )
    expected = expectations(m, CFG)
    plan = geometric_plan(m, expected, CFG.exposure_tolerance)
    assert validate(GeometricTeacher().write_plan(_request(m, expected)), expected).ok
    return plan


def _request(m, expected):
    pair = record(0, "p.png", "g.png", [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    return PlanRequest(pair, None, None, "", m, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "name"),
    [((300, 400), "3:4"), ((1920, 1080), "16:9"), ((500, 500), "1:1"), ((640, 427), "3:2"),
     ((1000, 618), "13:8")],
)  # fmt: skip
def test_ratio_names(size, name):
    assert ratio_name(*size) == name


def test_no_change_everywhere_for_the_same_shot(photo, locator):
    plan = plan_for(photo, locator, Shot(), Shot())
    assert set(plan.to_dict().values()) == {NO_CHANGE}


def test_counter_clockwise_poor_gets_rotate_clockwise(photo, locator):
    plan = plan_for(photo, locator, Shot(rotation_deg=-4), Shot())
    assert plan.composition == "Rotate 4° clockwise to level the horizon"
    plan = plan_for(photo, locator, Shot(rotation_deg=6), Shot())
    assert plan.composition == "Rotate 6° counter-clockwise to level the horizon"


def test_landscape_to_portrait_and_tighter(photo, locator):
    plan = plan_for(photo, locator, Shot(size=(320, 240), at=(0.5, 0.4)), Shot(zoom=1.0))
    assert plan.aspect_ratio == "Use a vertical 3:4 portrait ratio"
    assert plan.composition.startswith("Frame tighter")


def test_wider_framing(photo, locator):
    plan = plan_for(photo, locator, Shot(zoom=0.85), Shot())
    assert plan.composition == "Widen the framing to show about 1.4x more of the scene"


def test_subject_shift_to_the_lower_right_third(photo, locator):
    plan = plan_for(photo, locator, Shot(), Shot(at=(0.68, 0.45)))
    assert plan.position == "Shift the subject toward the lower-right third"
    plan = plan_for(photo, locator, Shot(at=(0.68, 0.33)), Shot(at=(0.32, 0.33)))
    assert plan.position == "Shift the subject toward the left third"


def test_viewpoint_from_the_keystone(photo, locator):
    plan = plan_for(photo, locator, Shot(), Shot(), keystone_warp(0.3, "right"))
    assert "to the right" in plan.camera
    plan = plan_for(photo, locator, Shot(), Shot(), keystone_warp(0.3, "bottom"))
    assert plan.camera == "Lower the camera and angle it slightly upward"


def test_pose_from_narration_and_renders_parseable_text(photo, locator):
    plan = plan_for(photo, locator, Shot(), Shot(), narration="ask her to raise her left arm")
    assert plan.pose == "Raise the left arm"
    m = measure_pair(
        Shot().render(photo), Shot().render(photo), normalised_homography(Shot(), Shot()),
        "", CFG, locator,
    )  # fmt: skip
    text = GeometricTeacher().write_plan(_request(m, expectations(m, CFG)))
    assert parse(text).ok and GeometricTeacher().version == "1"
