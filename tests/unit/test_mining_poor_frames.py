"""Poor-frame selection: middle of the earliest still run of the viewfinder run."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.mining.poor_frames import select_poor
from aesformer.mining.segments import EventSpan, Span
from tests.unit.test_mining_segments import video_from

pytestmark = pytest.mark.unit


def test_earliest_rest_after_fade_in():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (18, 32)).astype(np.float32)
    fade = [a * s for s in np.linspace(0.1, 0.9, 5)]
    still = [a] * 8
    moving = [np.roll(a, k, axis=1) for k in range(1, 15)]
    late = [moving[-1]] * 10
    v = video_from(fade + still + moving + late)
    ev = EventSpan(0, Span(0, len(v.diff)), Span(len(v.diff), len(v.diff)))
    p = select_poor(v, ev, 0.35, 0.3)
    assert p is not None and 5 <= p.index < 13  # in the first rest, not in the fade or later


def test_never_rests():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (18, 32)).astype(np.float32)
    v = video_from([np.roll(a, 2 * k, axis=1) for k in range(20)])
    assert select_poor(v, EventSpan(0, Span(0, 20), Span(20, 20)), 0.35, 0.3) is None


def test_slow_correction_under_still_threshold_is_not_the_poor_framing():
    """A correction easing by less than ``still_diff`` a frame extends the still run; the poor
    frame is taken once the first framing has rested, not in the run's middle."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 255, (18, 32)).astype(np.float32)
    rest = [a] * 10
    # the image drifts by 0.2 gray levels a frame: still by the threshold, but a new framing
    drift = [np.clip(a + 0.2 * k, 0, 255) for k in range(1, 60)]
    v = video_from(rest + drift, fps=10.0)
    n = len(v.diff)
    p = select_poor(v, EventSpan(0, Span(0, n), Span(n, n)), 0.35, 0.3)
    assert p is not None and p.index < 10  # in the first rest, before the drift began
