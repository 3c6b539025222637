"""Edit planning: contiguous segments, one transition per join, distractors never inside events."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.config import CorpusConfig
from aesformer.corpus.timeline import (
    DISTRACTOR_KINDS,
    MIN_FADE_FRAMES,
    MIN_VIEWFINDER_FRAMES,
    Timeline,
    frames,
    plan_timeline,
)

pytestmark = pytest.mark.unit
CFG = CorpusConfig()


def _plan(seed: int, n_events: int = 3, cfg: CorpusConfig = CFG, fps: int = 25) -> Timeline:
    return plan_timeline(np.random.default_rng(seed), cfg, fps, n_events)


def test_frames_rounds_with_a_minimum() -> None:
    assert frames(1.0, 25) == 25 and frames(0.5, 25) == 12 and frames(0.001, 25) == 1
    assert frames(0.01, 25, 3) == 3


@pytest.mark.parametrize("seed", range(20))
def test_segments_and_transitions_tile_the_video(seed: int) -> None:
    tl = _plan(seed, n_events=2 + seed % 3)
    assert len(tl.transitions) == len(tl.segments) - 1
    cursor = 0
    for i, seg in enumerate(tl.segments):
        assert seg.start == cursor and seg.n_frames >= 1
        cursor = seg.end
        if i < len(tl.transitions):
            t = tl.transitions[i]
            assert t.start == cursor
            assert (t.n_frames == 0) == (t.kind == "cut")
            assert t.kind == "cut" or t.n_frames >= MIN_FADE_FRAMES
            cursor = t.end
    assert cursor == tl.n_frames


@pytest.mark.parametrize("seed", range(20))
def test_events_are_viewfinder_then_cut_then_photo(seed: int) -> None:
    tl = _plan(seed, n_events=3)
    assert tl.n_events == 3
    for e in range(3):
        vf, good = tl.event_segment("viewfinder", e), tl.event_segment("good", e)
        assert good.start == vf.end and vf.n_frames >= MIN_VIEWFINDER_FRAMES
        assert tl.around(vf)[1].kind == "cut"
        lo, hi = CFG.viewfinder_seconds
        assert lo * 25 - 1 <= vf.n_frames <= hi * 25 + 1
    kinds = [s.kind for s in tl.segments]
    assert kinds[0] == "title_card"
    for i, seg in enumerate(tl.segments):
        if seg.kind == "before_after":
            assert kinds[i - 1] == "good" and tl.segments[i - 1].event == seg.event


def test_distractors_are_optional_and_kinds_are_known() -> None:
    off = CorpusConfig(distractors=False)
    for seed in range(10):
        assert {s.kind for s in _plan(seed, cfg=off).segments} == {"viewfinder", "good"}
    seen = {s.kind for seed in range(30) for s in _plan(seed).segments}
    assert set(DISTRACTOR_KINDS) <= seen


def test_transition_lengths_follow_the_config() -> None:
    cfg = CorpusConfig(transition_seconds=(0.4, 0.8))
    fades = [
        t for seed in range(30) for t in _plan(seed, cfg=cfg, fps=30).transitions if t.kind != "cut"
    ]
    assert fades and all(12 <= t.n_frames <= 24 for t in fades)
    assert {t.kind for t in fades} == {"crossfade", "fade_black"}


def test_planning_is_deterministic() -> None:
    assert _plan(5) == _plan(5)
    assert _plan(5) != _plan(6)
