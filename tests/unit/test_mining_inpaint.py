"""Inpainting registry: OpenCV backends fill masks; custom backends plug in."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.mining import inpaint

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_opencv_backends_fill_only_the_mask(name):
    img = np.full((40, 40, 3), 100, np.uint8)
    img[18:22, :] = 255
    mask = np.zeros((40, 40), np.uint8)
    mask[17:23, :] = 1
    out = inpaint.get_inpainter(name, 3)(img, mask)
    assert np.abs(out[18:22].astype(int) - 100).max() < 10
    assert (out[:15] == img[:15]).all()
    assert (inpaint.get_inpainter(name, 3)(img, mask * 0) == img).all()


def test_register_and_unknown(monkeypatch):
    monkeypatch.setitem(inpaint.INPAINTERS, "x", lambda r: lambda im, m: im * 0)
    assert (inpaint.get_inpainter("x", 1)(np.ones((2, 2, 3), np.uint8), None) == 0).all()
    inpaint.register("y", lambda r: lambda im, m: im)
    assert "y" in inpaint.INPAINTERS
    del inpaint.INPAINTERS["y"]
    with pytest.raises(ValueError, match="unknown inpaint backend"):
        inpaint.get_inpainter("lama", 3)
