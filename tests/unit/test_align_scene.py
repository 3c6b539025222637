"""Same-scene check: homography estimation and global similarity on corpus events."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.align.images import to_analysis
from aesformer.align.scene import match_scene, normalised_homography
from aesformer.config import AlignConfig
from aesformer.corpus import make_event

CFG = AlignConfig()


def _small(img):
    return to_analysis(img, CFG.analysis_long_side)


@pytest.mark.parametrize("seed", [0, 3, 9])
def test_same_event_matches(seed):
    ev = make_event(seed=seed, size=(640, 360))
    m = match_scene(_small(ev.photos.poor), _small(ev.photos.good), CFG)
    assert m.homography is not None
    assert m.inliers >= CFG.min_inliers
    assert m.inlier_ratio >= CFG.min_scene_inlier_ratio
    assert m.similarity >= CFG.min_global_similarity


@pytest.mark.parametrize(("a", "b"), [(0, 1), (2, 6), (13, 14)])
def test_different_scenes_are_dissimilar(a, b):
    poor = make_event(seed=a, size=(640, 360)).photos.poor
    good = make_event(seed=b, size=(640, 360)).photos.good
    m = match_scene(_small(poor), _small(good), CFG)
    assert (
        m.homography is None
        or m.similarity < CFG.min_global_similarity
        or (m.inliers < CFG.min_inliers)
    )


def test_recovers_a_known_crop_and_zoom():
    good = make_event(seed=9, size=(640, 360)).photos.good
    # poor = the central region of good (a zoomed-in shot); poor->good maps it back
    h, w = good.shape[:2]
    x0, y0, x1, y1 = w // 4, h // 4, 3 * w // 4, 3 * h // 4
    poor = cv2.resize(good[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_LINEAR)
    sp, sg = _small(poor), _small(good)
    m = match_scene(sp, sg, CFG)
    assert m.homography is not None
    n = np.array(normalised_homography(m.homography, sp.shape[1::-1], sg.shape[1::-1]))
    expected = np.array([[0.5, 0, 0.25], [0, 0.5, 0.25], [0, 0, 1]])
    assert np.abs(n - expected).max() < 0.02


def test_normalised_homography_of_a_pure_scale_is_identity():
    h = np.diag([2.0, 2.0, 1.0])  # poor 100x50 px -> good 200x100 px
    n = normalised_homography(h, (100, 50), (200, 100))
    assert np.allclose(n, np.eye(3))


def test_featureless_images_have_no_homography():
    flat = np.full((180, 320, 3), 128, np.uint8)
    m = match_scene(flat, flat, CFG)
    assert m.homography is None
    assert m.inlier_ratio == 0.0
