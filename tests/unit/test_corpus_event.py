"""Events: schedule, eased frame states, clean photos consistent with the recorded changes."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.corpus.camera import fit_size
from aesformer.corpus.event import (
    EventPlan,
    EventRenderer,
    Schedule,
    frame_state,
    plan_event,
)
from aesformer.corpus.ui import ViewfinderChrome

pytestmark = pytest.mark.unit
SIZE = (320, 180)
FPS = 12


def _plan(seed: int, n_frames: int = 40) -> EventPlan:
    return plan_event(np.random.default_rng(seed), 0, SIZE, n_frames, FPS)


PLANS = [_plan(s) for s in range(40)]


def _with(change: str) -> list[EventPlan]:
    return [p for p in PLANS if change in {c.name for c in p.changes}]


@pytest.mark.parametrize(("n", "k"), [(3, 2), (40, 3), (60, 5), (120, 4)])
def test_schedule_windows_cover_the_motion(n: int, k: int) -> None:
    s = Schedule.build(n, 25, k)
    assert s.hold >= 1 and s.settle >= 1 and 1 <= s.press <= s.settle
    assert s.windows[0][0] == s.hold and s.windows[-1][1] == n - s.settle
    assert all(a[1] == b[0] for a, b in zip(s.windows, s.windows[1:], strict=False))
    assert s.narration[0][0] == 0 and s.narration[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(s.narration, s.narration[1:], strict=False))
    for i in range(k):
        prog = [s.progress(i, f) for f in range(n)]
        assert prog == sorted(prog) and prog[0] == 0 and prog[-1] == 1
    assert [s.shake_envelope(f) for f in range(s.hold)] == [0] * s.hold
    assert s.shake_envelope(n - 1) == 0


def test_plans_are_deterministic_and_record_two_to_five_changes() -> None:
    assert _plan(3) == _plan(3)
    assert all(2 <= len(p.changes) <= 5 for p in PLANS)
    assert any(p.subject.kind == "photo" for p in PLANS) and any(
        p.subject.kind == "figure" for p in PLANS
    )


@pytest.mark.parametrize("plan", PLANS[:10])
def test_frame_states_go_from_poor_to_good(plan: EventPlan) -> None:
    n = plan.schedule.n_frames
    first, last = frame_state(plan, 0), frame_state(plan, n - 1)
    assert first.shot == plan.poor and last.shot == plan.good
    assert frame_state(plan, plan.schedule.hold - 1).shot == plan.poor
    assert (
        first.subtitle == plan.changes[0].narration and last.subtitle == plan.changes[-1].narration
    )
    assert last.pressed and not first.pressed
    aspects = [frame_state(plan, f).shot.camera.aspect for f in range(n)]
    switches = sum(a != b for a, b in zip(aspects, aspects[1:], strict=False))
    assert switches == (plan.poor.camera.aspect != plan.good.camera.aspect)


def test_continuous_changes_ease_through_intermediate_values() -> None:
    plan = _with("tilt")[0]
    rolls = [frame_state(plan, f).shot.camera.roll_deg for f in range(plan.schedule.n_frames)]
    lo, hi = sorted((plan.poor.camera.roll_deg, plan.good.camera.roll_deg))
    inside = [r for r in rolls if lo + 0.05 < r < hi - 0.05]
    assert len(inside) >= 2


@pytest.fixture(scope="module")
def renderer() -> EventRenderer:
    return EventRenderer(PLANS[0], ViewfinderChrome(*SIZE, "9:41", 0.5))


def test_clean_photos_have_the_recorded_formats(renderer: EventRenderer) -> None:
    photos = renderer.clean_photos()
    plan = renderer.plan
    for image, shot in ((photos.poor, plan.poor), (photos.good, plan.good)):
        assert image.shape[1::-1] == fit_size(shot.camera.ratio, *SIZE)
    if photos.poor.shape == photos.good.shape:
        assert np.abs(photos.poor.astype(int) - photos.good.astype(int)).mean() > 2


def test_viewfinder_frames_show_the_poor_then_the_good_photo(renderer: EventRenderer) -> None:
    plan = renderer.plan
    chrome = renderer.chrome
    assert chrome is not None
    for frame_no, shot in ((0, plan.poor), (plan.schedule.n_frames - 1, plan.good)):
        frame = renderer.viewfinder_frame(frame_no)
        rect = chrome.photo_rect(shot.camera.aspect)
        expected = renderer.photo(shot, (rect.w, rect.h))
        top = frame[rect.y : rect.y + rect.h // 3 - 2, rect.x : rect.x + rect.w // 3 - 2]
        assert np.array_equal(top, expected[: rect.h // 3 - 2, : rect.w // 3 - 2])
    renderer.release()
    assert renderer.viewfinder_frame(0).shape == (SIZE[1], SIZE[0], 3)


def _centre(box: tuple[float, ...]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def test_subject_box_moves_in_the_recorded_direction() -> None:
    checked = 0
    for plan in _with("position")[:6]:
        photos = EventRenderer(plan).clean_photos()
        dx = plan.good.camera.subject_x - plan.poor.camera.subject_x
        moved = _centre(photos.box_good)[0] - _centre(photos.box_poor)[0]
        assert np.sign(moved) == np.sign(dx)
        checked += 1
    assert checked >= 3


def test_subject_box_grows_with_the_recorded_zoom() -> None:
    for plan in _with("zoom")[:4]:
        photos = EventRenderer(plan).clean_photos()
        hp = photos.box_poor[3] - photos.box_poor[1]
        hg = photos.box_good[3] - photos.box_good[1]
        closer = plan.good.camera.subject_height > plan.poor.camera.subject_height
        assert (hg > hp) == closer


def test_focus_blurs_the_good_background_only() -> None:
    plan = _with("focus")[0]
    r = EventRenderer(plan)
    sharp = r.world(plan.poor.pose, 0.0)[0]
    soft = r.world(plan.poor.pose, plan.good.camera.blur_sigma)[0]
    top = slice(0, plan.world_size[1] // 3)
    assert (
        np.abs(np.diff(soft[top].astype(int), axis=1)).mean()
        < np.abs(np.diff(sharp[top].astype(int), axis=1)).mean()
    )
