"""Measurements between synthetic pairs with known changes (astronaut on a brick wall)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.annotate.measure import measure_pair, orientation, pose_from_narration
from aesformer.annotate.subject import FaceOrSaliencyLocator, saliency_subject
from aesformer.config import AnnotateConfig
from tests.annotate_pairs import Shot, keystone_warp, normalised_homography, source

pytestmark = pytest.mark.unit
CFG = AnnotateConfig()


@pytest.fixture(scope="module")
def photo():
    return source()


@pytest.fixture(scope="module")
def locator():
    return FaceOrSaliencyLocator()


def measure(photo, locator, poor: Shot, good: Shot, warp=None, narration="", edit=None):
    poor_img, good_img = poor.render(photo), good.render(photo, warp)
    if edit is not None:
        good_img = edit(good_img)
    h = normalised_homography(poor, good, warp)
    return measure_pair(poor_img, good_img, h, narration, CFG, locator)


def test_identical_shots_measure_no_change(photo, locator):
    m = measure(photo, locator, Shot(), Shot())
    assert m.aspect_change == 0 and m.zoom == pytest.approx(1)
    assert m.rotation_deg == pytest.approx(0, abs=1e-6)
    assert m.keystone_x == pytest.approx(0, abs=1e-6) and m.focus_change == pytest.approx(0)
    assert m.subject_source == "face" and m.subject_poor == pytest.approx(m.subject_good)
    assert np.abs(m.delta_lab).max() < 0.1


def test_rotation_sign_is_the_clockwise_turn_of_the_picture(photo, locator):
    # the poor picture is turned 5 degrees counter-clockwise: the good one turns it back
    assert measure(photo, locator, Shot(rotation_deg=-5), Shot()).rotation_deg == pytest.approx(5)
    assert measure(photo, locator, Shot(rotation_deg=3), Shot()).rotation_deg == pytest.approx(-3)


def test_zoom_is_tighter_above_one(photo, locator):
    assert measure(photo, locator, Shot(), Shot(zoom=0.85)).zoom == pytest.approx(0.85 / 0.6)
    assert measure(photo, locator, Shot(zoom=0.85), Shot()).zoom == pytest.approx(0.6 / 0.85)


def test_aspect_change_and_orientation(photo, locator):
    m = measure(photo, locator, Shot(size=(320, 240), at=(0.5, 0.4)), Shot())
    assert m.aspect_change == pytest.approx(np.log(0.75 / (4 / 3)))
    assert (m.poor_orientation, m.good_orientation) == ("horizontal", "vertical")
    assert orientation(100, 101) == "square"


def test_keystone_grows_on_the_side_the_camera_moved_to(photo, locator):
    right = measure(photo, locator, Shot(), Shot(), keystone_warp(0.3, "right"))
    assert right.keystone_x > 0.08 and abs(right.keystone_y) < 0.02
    bottom = measure(photo, locator, Shot(), Shot(), keystone_warp(0.3, "bottom"))
    assert bottom.keystone_y > 0.08 and abs(bottom.keystone_x) < 0.02


def test_subject_shift_is_measured_in_both_frames(photo, locator):
    m = measure(photo, locator, Shot(), Shot(at=(0.68, 0.45)))
    dx = m.subject_good[0] - m.subject_poor[0]
    dy = m.subject_good[1] - m.subject_poor[1]
    assert dx == pytest.approx(0.18, abs=0.02) and dy == pytest.approx(0.12, abs=0.02)


def test_background_blur_lowers_focus_change(photo, locator):
    poor = Shot().render(photo)
    subject = locator.locate(poor)

    def portrait_mode(img):
        x0, y0, x1, y1 = subject.box
        mask = np.zeros(img.shape[:2], np.uint8)
        h, w = mask.shape
        cv2.rectangle(mask, (int(x0 * w), int(y0 * h)), (int(x1 * w), int(y1 * h)), 255, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 3)[..., None] / 255.0
        return (img * mask + cv2.GaussianBlur(img, (0, 0), 3) * (1 - mask)).astype(np.uint8)

    m = measure(photo, locator, Shot(), Shot(), edit=portrait_mode)
    assert m.focus_change < -2 * CFG.focus_tolerance
    globally = measure(
        photo, locator, Shot(), Shot(), edit=lambda i: cv2.GaussianBlur(i, (0, 0), 1.5)
    )
    assert abs(globally.focus_change) < CFG.focus_tolerance  # a uniform blur is not depth of field


def test_brighter_and_warmer_colour(photo, locator):
    def warm(img):
        return np.clip(img.astype(np.float32) * [0.9, 1.05, 1.25], 0, 255).astype(np.uint8)

    d_l, d_a, d_b = measure(photo, locator, Shot(), Shot(), edit=warm).delta_lab
    assert d_l > CFG.exposure_tolerance and d_b > CFG.tint_tolerance


def test_degenerate_homography_is_an_error(photo, locator):
    img = Shot().render(photo)
    with pytest.raises(ValueError, match="finite 3x3"):
        measure_pair(img, img, [[1, 0], [0, 1]], "", CFG, locator)
    with pytest.raises(ValueError, match="overlaps"):
        far = [[1, 0, 5.0], [0, 1, 5.0], [0, 0, 1]]  # the poor image lands far outside
        measure_pair(img, img, far, "", CFG, locator)


def test_saliency_fallback_finds_a_bright_blob():
    img = np.full((240, 320, 3), 40, np.uint8)
    cv2.circle(img, (240, 80), 18, (255, 255, 255), -1)
    s = saliency_subject(img)
    assert s.source == "saliency"
    assert s.point == pytest.approx((0.75, 0.333), abs=0.06)


@pytest.mark.parametrize(
    ("narration", "pose"),
    [
        ("step back two meters. ask her to raise her right arm", "Raise the right arm"),
        ("ask him to put both hands on his hips", "Put both hands on the hips"),
        ("ask her to raise her leftarm.", "Raise the left arm"),  # glued by OCR
        ("switch to portrait mode. ask him to raise his righthand", "Raise the right hand"),
        ("lower the camera to chest height and raise the exposure by one stop", None),
        ("move her to the left third and tilt up a little to give her more headroom", None),
        ("tilt down a little to cut the empty space above her head", None),
        ("", None),
    ],
)
def test_pose_comes_from_the_narration(narration, pose):
    assert pose_from_narration(narration) == pose
