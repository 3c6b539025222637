"""Subject box from saliency (the HOG people detector is absent from OpenCV 5)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.scoring import subject

pytestmark = pytest.mark.unit


def test_salient_blob_is_found():
    img = np.full((120, 160, 3), 90, np.uint8)
    cv2.circle(img, (115, 60), 16, (40, 60, 250), -1)  # luma differs from the background
    box, how = subject.subject_box(img)
    assert how in {"person", "saliency"}
    x0, y0, x1, y1 = box
    assert x0 < 115 / 160 < x1 and y0 < 60 / 120 < y1
    assert (x1 - x0) < 0.6


def test_saliency_map_normalised():
    sal = subject.saliency_map(np.random.default_rng(0).integers(0, 255, (50, 80, 3), np.uint8))
    assert sal.min() == 0 and sal.max() == pytest.approx(1)
