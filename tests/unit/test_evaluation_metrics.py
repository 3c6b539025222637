"""Eval image metrics on crafted images with known answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from aesformer.evaluation.metrics import (
    aesthetic_scores,
    edit_distance,
    identity_similarity,
    lbp_descriptor,
    scene_consistency,
    similarity,
)

pytestmark = pytest.mark.unit


def bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT)


def horizon(height: int = 360, width: int = 640) -> np.ndarray:
    """Sky over grass with a straight, level horizon (a little noise for texture)."""
    image = np.zeros((height, width, 3), np.uint8)
    image[: height * 5 // 9] = (200, 160, 90)
    image[height * 5 // 9 :] = (60, 120, 60)
    noise = np.random.default_rng(0).normal(0, 8, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_a_rotated_copy_scores_lower_on_horizon_level():
    level = aesthetic_scores(horizon())
    tilted = aesthetic_scores(rotate(horizon(), 6))
    assert level["aesthetic_level"] == pytest.approx(1.0)
    assert tilted["aesthetic_level"] < 0.5 and abs(tilted["horizon_tilt_deg"]) > 4
    assert 0.0 <= tilted["aesthetic"] <= 1.0


def test_identity_is_one_for_a_copy_and_lower_for_another_face():
    astronaut = bgr(data.astronaut())
    assert identity_similarity(astronaut, astronaut.copy()) == pytest.approx(1.0)
    cat = bgr(data.chelsea())  # the cascade finds a "face" in it: a different subject
    other = identity_similarity(astronaut, cat)
    assert other is not None and other < 0.9
    mirrored = identity_similarity(astronaut, astronaut[:, ::-1].copy())
    assert mirrored is not None and mirrored < 1.0


def test_identity_is_undefined_without_a_face():
    coffee = bgr(data.coffee())
    assert identity_similarity(bgr(data.astronaut()), coffee) is None


def test_lbp_descriptor_is_a_distribution():
    d = lbp_descriptor(bgr(data.astronaut())[100:300, 150:350])
    assert d.shape == (16 * 10,) and d.sum() == pytest.approx(1.0) and (d >= 0).all()


def test_scene_consistency_orders_same_rotated_and_other_scene():
    astronaut = bgr(data.astronaut())
    same = scene_consistency(astronaut, astronaut)
    moved = scene_consistency(astronaut, rotate(astronaut, 10))
    other = scene_consistency(astronaut, bgr(data.coffee()))
    assert same == {"inliers": 1.0, "global": pytest.approx(1.0)}
    assert same["inliers"] > moved["inliers"] > 0.3 > 0.05 > other["inliers"]
    assert other["global"] < moved["global"]


def test_similarity_and_edit_distance():
    astronaut = bgr(data.astronaut())
    assert similarity(astronaut, astronaut) == {"ssim": 1.0, "psnr": 100.0}
    half = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    resized = similarity(half, astronaut)  # resized back to the target's size first
    assert 0.5 < resized["ssim"] < 1.0 and 20 < resized["psnr"] < 100
    assert similarity(rotate(astronaut, 5), astronaut)["ssim"] < resized["ssim"]
    assert edit_distance(astronaut, astronaut) == 0.0
    assert edit_distance(astronaut, 255 - astronaut) > 0.3
