"""Good-image filters: each check can fail, first failure is the reason."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.config import MineConfig
from aesformer.corpus import make_event
from aesformer.mining.filters import correlation, filter_good
from aesformer.scoring.aesthetic import get_scorer

pytestmark = pytest.mark.unit
SCORER = get_scorer("photographic")


@pytest.fixture(scope="module")
def photo():
    return make_event(seed=3, size=(640, 360)).photos.good


def test_good_photo_passes(photo):
    res = filter_good(photo, MineConfig(), SCORER, 0.05, False, photo)
    assert res.reason is None and all(res.checks.values())
    assert res.scores["viewfinder_match"] > 0.99


def test_each_failure(photo):
    cfg = MineConfig()
    assert filter_good(photo, cfg, SCORER, 3.0, False, None).reason == "good_mid_transition"
    assert filter_good(photo, cfg, SCORER, 0.0, True, None).reason == "good_mid_transition"
    blurred = cv2.GaussianBlur(photo, (0, 0), 8)
    assert filter_good(blurred, cfg, SCORER, 0.0, False, None).reason == "good_blurry"
    white = np.full_like(photo, 255)
    white[::2, ::2] = 0
    assert filter_good(white, cfg, SCORER, 0.0, False, None).reason == "good_clipped"
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 40, photo.shape), 0, 255)
    assert filter_good(noisy.astype(np.uint8), cfg, SCORER, 0, False, None).reason == "good_noisy"
    strict = MineConfig(min_aesthetic=2.0)
    assert filter_good(photo, strict, SCORER, 0, False, None).reason == "good_low_aesthetic"
    other = np.ascontiguousarray(photo[::-1, ::-1])
    assert filter_good(photo, cfg, SCORER, 0, False, other).reason == "good_mismatch"


def test_correlation_range(photo):
    assert correlation(photo, photo) == pytest.approx(1.0)
    assert correlation(photo, 255 - photo) == pytest.approx(-1.0)
