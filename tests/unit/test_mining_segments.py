"""Still runs, fade windows (blend test) and grouping viewfinder runs into events."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.mining.decode import DecodedVideo, VideoInfo
from aesformer.mining.segments import (
    CutDetector,
    Span,
    find_events,
    smooth,
    still_runs,
    transition_windows,
)

pytestmark = pytest.mark.unit


def video_from(thumbs: list[np.ndarray], fps: float = 10.0) -> DecodedVideo:
    t = np.stack(thumbs).astype(np.uint8)
    diff = np.r_[0.0, np.abs(np.diff(t.astype(np.float32), axis=0)).mean(axis=(1, 2))]
    info = VideoInfo(t.shape[2], t.shape[1], fps, len(t), len(t), 0)
    samples = {i: np.repeat(t[i][..., None], 3, axis=2) for i in range(0, len(t), 5)}
    return DecodedVideo(info, diff.astype(np.float32), t.mean(axis=(1, 2)), t, samples)


def test_smooth_ignores_single_blips_and_still_runs():
    d = np.array([0, 0.1, 0.1, 3.0, 0.1, 0.1, 0.1, 2, 2, 2, 2, 0.1], np.float32)
    assert smooth(d)[3] < 0.5
    runs = still_runs(d, 0.35, 3)
    assert runs[0] == Span(0, 7) and all(len(r) >= 3 for r in runs)


def test_crossfade_and_fade_to_black_are_windows_motion_is_not():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 255, (2, 18, 32)).astype(np.float32)
    fr = [a] * 5 + [(1 - w) * a + w * b for w in np.linspace(0.1, 0.9, 8)] + [b] * 5
    fr += (
        [b * s for s in np.linspace(0.9, 0, 5)] + [a * s for s in np.linspace(0.2, 1, 5)] + [a] * 5
    )
    v = video_from(fr)
    wins = transition_windows(v, 2.0, 6.0)
    assert any(w.start <= 5 and w.end >= 12 for w in wins)
    assert any(w.start <= 19 and w.end >= 27 for w in wins)
    # a moving texture (pan) is not a blend of its ends
    pan = [np.roll(a, k, axis=1) for k in range(0, 30, 3)]
    assert transition_windows(video_from([a] * 3 + pan + [pan[-1]] * 3), 2.0, 6.0) == []


def test_event_is_viewfinder_run_then_cut_to_photo():
    rng = np.random.default_rng(2)
    ui_img, photo, other = rng.integers(0, 255, (3, 18, 32)).astype(np.float32)
    fr = [other] * 10 + [ui_img] * 30 + [photo] * 20 + [other] * 10
    v = video_from(fr)
    ui = {i: 10 <= i < 40 for i in v.samples}
    events = find_events(v, ui, {10, 40, 60}, [], 2)
    assert len(events) == 1
    assert events[0].viewfinder == Span(10, 40) and events[0].good == Span(40, 60)
    # a single UI sample is not a run
    assert find_events(v, {i: i == 10 for i in v.samples}, set(), [], 2) == []


def test_cut_detector_reports_hard_cut():
    det = CutDetector(10, 27.0, 0.05)
    a = np.zeros((90, 160, 3), np.uint8)
    b = np.full((90, 160, 3), 220, np.uint8)
    b[:, :80] = (0, 0, 255)
    for i in range(20):
        det(i, a if i < 10 else b)
    assert 10 in det.cuts


def test_cut_detector_downscales_to_its_width_and_finds_the_same_cut():
    seen: list[tuple[int, int]] = []

    class Spy:
        def process_frame(self, _tc, frame):
            seen.append(frame.shape[:2])
            return []

    det = CutDetector(10, 27.0, 0.05, width=80)
    real = det.detectors
    det.detectors = [*real, Spy()]
    a = np.zeros((180, 320, 3), np.uint8)
    b = np.full((180, 320, 3), 220, np.uint8)
    b[:, :160] = (0, 0, 255)
    for i in range(20):
        det(i, a if i < 10 else b)
    assert 10 in det.cuts and set(seen) == {(44, 80)}  # 320x180 -> 80 wide (analysis_size)
    narrow = CutDetector(10, 27.0, 0.05, width=640)  # never upscaled
    narrow.detectors = [Spy()]
    seen.clear()
    narrow(0, a)
    assert seen == [(180, 320)]


def test_adaptive_detector_finds_the_cut_after_finish():
    det = CutDetector(10, 27.0, 0.05, ("adaptive",))
    rng = np.random.default_rng(0)
    a = rng.integers(0, 60, (90, 160, 3), np.uint8)
    b = rng.integers(150, 255, (90, 160, 3), np.uint8)
    for i in range(30):
        det(i, a if i < 15 else b)
    assert 15 in det.finish()
    with pytest.raises(ValueError, match="unknown cut detector"):
        CutDetector(10, 27.0, 0.05, ("magic",))
