"""Virtual camera: homography conventions, pyramid sampling, exposure, subject boxes."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.corpus.camera import (
    ASPECTS,
    Anchor,
    CameraParams,
    apply_exposure,
    build_pyramid,
    exposure_lut,
    fit_size,
    homography,
    project_box,
    render_view,
)

pytestmark = pytest.mark.unit

ANCHOR = Anchor(900.0, 300.0, 1100.0, 800.0)
SIZE = (800, 600)


def _corners(cam: CameraParams) -> np.ndarray:
    """Photo positions of the world rectangle (0,0)-(2000,1000): TL, TR, BR, BL."""
    pts = np.array([[[0, 0], [2000, 0], [2000, 1000], [0, 1000]]], np.float64)
    return cv2.perspectiveTransform(pts, homography(cam, ANCHOR, SIZE))[0]


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_fit_size_is_even_fits_and_keeps_ratio(aspect: str) -> None:
    for box in ((640, 360), (1280, 720), (320, 180)):
        w, h = fit_size(ASPECTS[aspect], *box)
        assert w % 2 == 0 and h % 2 == 0 and w <= box[0] and h <= box[1]
        assert max(w, h) >= max(box) * 0.5
        assert abs(w / h - ASPECTS[aspect]) <= 2.5 / h


def test_anchor_centre_lands_on_subject_position() -> None:
    cam = CameraParams("4:3", roll_deg=3, subject_x=0.3, subject_y=0.6, yaw_deg=15, pitch_deg=5)
    p = homography(cam, ANCHOR, SIZE) @ np.array([*ANCHOR.centre, 1.0])
    assert p[:2] / p[2] == pytest.approx((0.3 * 800 - 0.5, 0.6 * 600 - 0.5))


def test_subject_height_sets_the_scale() -> None:
    tl, _, _, bl = cv2.perspectiveTransform(
        np.array([[[900, 300], [1100, 300], [1100, 800], [900, 800]]], np.float64),
        homography(CameraParams("4:3", subject_height=0.5), ANCHOR, SIZE),
    )[0]
    assert bl[1] - tl[1] == pytest.approx(0.5 * 600)


def test_roll_turns_content_counter_clockwise() -> None:
    tl, tr, _, _ = _corners(CameraParams("4:3", roll_deg=10))
    assert tr[1] < tl[1]  # the top edge rises to the right
    assert np.degrees(np.arctan2(tl[1] - tr[1], tr[0] - tl[0])) == pytest.approx(10)


def test_positive_yaw_brings_the_right_side_closer() -> None:
    tl, tr, br, bl = _corners(CameraParams("4:3", yaw_deg=20))
    assert br[1] - tr[1] > 1.3 * (bl[1] - tl[1])


def test_negative_pitch_brings_the_top_closer() -> None:
    tl, tr, br, bl = _corners(CameraParams("4:3", pitch_deg=-12))
    assert tr[0] - tl[0] > 1.1 * (br[0] - bl[0])
    tl, tr, br, bl = _corners(CameraParams("4:3", pitch_deg=12))
    assert br[0] - bl[0] > 1.1 * (tr[0] - tl[0])


def test_render_view_uses_antialiased_levels() -> None:
    world = np.zeros((1024, 2048, 3), np.uint8)
    world[:, ::2] = 255  # one-pixel stripes: aliasing would show as strong patterns
    pyramid = build_pyramid(world)
    assert len(pyramid) > 1 and pyramid[1].shape[:2] == (512, 1024)
    anchor = Anchor(924.0, 312.0, 1124.0, 712.0)
    photo = render_view(pyramid, CameraParams("16:9", subject_height=0.1), anchor, (320, 180))
    assert photo.shape == (180, 320, 3)
    assert photo.std() < 20 and abs(photo.mean() - 127.5) < 20


def test_exposure_lut_gain_and_white_balance() -> None:
    lut = exposure_lut(0.5, 0.0)[0]
    assert (lut[:, 0] == lut[:, 2]).all() and lut[200, 1] == 100
    warm = exposure_lut(1.0, 0.4)[0]
    assert warm[100, 2] > 100 > warm[100, 0] and warm[100, 1] == 100
    image = np.full((4, 4, 3), 100, np.uint8)
    assert apply_exposure(image, 1.0, 0.0) is image
    assert (apply_exposure(image, 2.0, 0.0) == 200).all()
    assert (apply_exposure(image, 3.0, 0.0) == 255).all()


def test_project_box_of_a_square_sprite() -> None:
    alpha = np.ones((100, 100), np.float32)
    anchor = Anchor(500.0, 500.0, 600.0, 600.0)
    cam = CameraParams("1:1", subject_height=0.5, subject_x=0.25, subject_y=0.5)
    box = project_box(alpha, (500, 500), homography(cam, anchor, (200, 200)), (200, 200))
    assert box == pytest.approx((0.0, 0.25, 0.5, 0.75), abs=0.011)
    assert project_box(alpha, (5000, 5000), homography(cam, anchor, (200, 200)), (200, 200)) is None
