"""Good-frame selection: first long still UI-free hold after the cut, sharpest inner sample."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.mining.good_frames import laplacian_variance, select_good
from aesformer.mining.segments import EventSpan, Span
from tests.unit.test_mining_segments import video_from

pytestmark = pytest.mark.unit


def photo_video(hold: int, fps: float = 10.0):
    rng = np.random.default_rng(0)
    vf, photo = rng.integers(0, 255, (2, 18, 32)).astype(np.float32)
    frames = [vf] * 20 + [photo] * hold + [vf * 0.5] * 10
    return video_from(frames, fps), EventSpan(0, Span(0, 20), Span(20, 20 + hold))


def test_picks_inner_sample_of_hold():
    v, ev = photo_video(20)
    g = select_good(v, ev, {i: i < 20 for i in v.samples}, 0.35, 1.0)
    assert g is not None and 20 < g.index < 39 and g.index in v.samples
    assert g.hold.start >= 20 and g.hold.end <= 40


def test_short_hold_or_ui_rejected():
    v, ev = photo_video(6)
    assert select_good(v, ev, {}, 0.35, 1.0) is None
    v, ev = photo_video(20)
    assert select_good(v, ev, {i: True for i in v.samples}, 0.35, 1.0) is None


def test_laplacian_variance_prefers_sharp():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (64, 64)).astype(np.uint8)
    assert laplacian_variance(sharp) > laplacian_variance(np.full((64, 64), 128, np.uint8))
