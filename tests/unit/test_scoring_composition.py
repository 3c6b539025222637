"""Composition measures: thirds, headroom, horizon tilt."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.scoring import composition

pytestmark = pytest.mark.unit


def test_thirds_prefers_subject_on_a_third():
    on = composition.thirds_score((0.28, 0.1, 0.38, 0.9))
    centre = composition.thirds_score((0.45, 0.1, 0.55, 0.9))
    assert on > 0.9 and centre < on


def test_headroom():
    assert composition.headroom_score((0.4, 0.0, 0.6, 0.9)) == 0.0  # cut at the top
    assert composition.headroom_score((0.4, 0.1, 0.6, 0.9)) == 1.0
    assert composition.headroom_score((0.4, 0.6, 0.6, 0.9)) < 0.6
    assert composition.headroom((0.1, 0.25, 0.2, 0.3)) == 0.25


@pytest.mark.parametrize("angle", [0.0, 6.0, -4.0])
def test_horizon_tilt(angle):
    img = np.zeros((240, 320, 3), np.uint8)
    img[:120] = (200, 150, 100)
    img[120:] = (40, 120, 40)
    rot = cv2.getRotationMatrix2D((160, 120), angle, 1.3)
    img = cv2.warpAffine(img, rot, (320, 240), borderMode=cv2.BORDER_REFLECT)
    tilt = composition.horizon_tilt(img)
    assert tilt is not None and tilt == pytest.approx(angle, abs=1.0)
    assert composition.level_score(tilt) == pytest.approx(1 - abs(angle) / 8, abs=0.15)
