"""New-object check: tone matching and thick-residual detection."""

from __future__ import annotations

import numpy as np

from aesformer.align.new_objects import compare, find_new_objects, tone_curve
from aesformer.config import AlignConfig

CFG = AlignConfig()


def _scene(h=180, w=320, seed=0):
    rng = np.random.default_rng(seed)
    base = np.zeros((h, w, 3), np.uint8)
    base[: h // 2] = (200, 160, 120)
    base[h // 2 :] = (60, 120, 90)
    noise = rng.integers(-10, 10, base.shape)
    return np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)


def test_tone_curve_inverts_a_gain():
    src = np.arange(0, 200, dtype=np.uint8).repeat(20)
    dst = (src.astype(np.float32) * 1.25).astype(np.float32)
    lut = tone_curve(src, dst)
    assert abs(lut[100] - 125) < 4
    assert np.all(np.diff(lut) >= 0)


def test_exposure_change_leaves_no_residual():
    poor = _scene()
    good = np.clip(poor.astype(np.float32) * 1.3 + 5, 0, 250).astype(np.uint8)
    mask = np.ones(poor.shape[:2], bool)
    cmp = compare(poor, good, mask, CFG.residual_blur_px)
    assert find_new_objects(cmp.residual, CFG) == []


def test_pasted_square_is_a_new_object_and_a_thin_stroke_is_not():
    poor = _scene()
    mask = np.ones(poor.shape[:2], bool)
    good = poor.copy()
    good[40:100, 200:260] = (30, 30, 220)  # a thick red object
    good[120:125, 20:160] = (250, 240, 10)  # a thin stroke (like a moved arm)
    blobs = find_new_objects(compare(poor, good, mask, CFG.residual_blur_px).residual, CFG)
    assert len(blobs) == 1
    x0, y0, x1, y1 = blobs[0].box
    assert 190 <= x0 <= 210 and 250 <= x1 <= 270 and 30 <= y0 <= 50 and 90 <= y1 <= 110


def test_outside_the_overlap_is_ignored():
    poor = _scene()
    good = poor.copy()
    good[40:100, 200:260] = (30, 30, 220)
    mask = np.ones(poor.shape[:2], bool)
    mask[:, 180:] = False  # the object lies where the poor image saw nothing
    assert find_new_objects(compare(poor, good, mask, CFG.residual_blur_px).residual, CFG) == []
