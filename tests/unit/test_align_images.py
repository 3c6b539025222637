"""Image loading and analysis scale of the align checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.align.images import UnreadableImage, read_bgr, to_analysis


def test_read_bgr_roundtrip_and_gray_becomes_three_channels(tmp_path):
    img = np.zeros((10, 20), np.uint8)
    img[2:5, 3:9] = 200
    path = tmp_path / "g.png"
    cv2.imwrite(str(path), img)
    out = read_bgr(path)
    assert out.shape == (10, 20, 3)
    assert (out[..., 0] == img).all()


@pytest.mark.parametrize("content", [None, b"", b"not a png"])
def test_read_bgr_missing_empty_corrupt(tmp_path, content):
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UnreadableImage, match="x.png"):
        read_bgr(path)


def test_to_analysis_keeps_aspect():
    small = to_analysis(np.zeros((360, 640, 3), np.uint8), 320)
    assert small.shape == (180, 320, 3)
    assert to_analysis(np.zeros((100, 50, 3), np.uint8), 320).shape == (320, 160, 3)
