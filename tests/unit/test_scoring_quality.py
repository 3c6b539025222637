"""Technical quality measures respond in the right direction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.scoring import quality

pytestmark = pytest.mark.unit


@pytest.fixture
def img():
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur(rng.integers(0, 255, (200, 300, 3), np.uint8), (0, 0), 1.5)


def test_sharpness_drops_with_blur(img):
    assert quality.sharpness(img) > 3 * quality.sharpness(cv2.GaussianBlur(img, (0, 0), 4))


def test_clipping_and_exposure():
    img = np.zeros((10, 10), np.uint8)
    img[:, 5:] = 255
    assert quality.clipping(img) == (0.5, 0.5)
    assert quality.exposure(img) == pytest.approx(0.5)


def test_noise_estimate_tracks_sigma():
    flat = np.full((200, 200), 128.0)
    rng = np.random.default_rng(0)
    for sigma in (2, 8):
        noisy = np.clip(flat + rng.normal(0, sigma, flat.shape), 0, 255).astype(np.uint8)
        assert quality.noise_sigma(noisy) == pytest.approx(sigma, rel=0.2)
