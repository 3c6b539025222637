"""One generated video against its truth: decoded stream, displayed photos, UI, fades, boxes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.config import CorpusConfig
from aesformer.corpus import letterbox, load_truth, make_event
from aesformer.corpus.camera import ASPECTS
from aesformer.corpus.generate import generate_video, plan_video, video_id
from aesformer.corpus.truth import EventTruth, VideoTruth
from aesformer.corpus.ui import BAR_COLOUR

pytestmark = pytest.mark.unit

CFG = CorpusConfig(
    resolutions=[(320, 180)],
    fps=[12],
    events_per_video=(2, 3),
    viewfinder_seconds=(1.5, 2.0),
    good_hold_seconds=(0.8, 1.0),
    transition_seconds=(0.3, 0.5),
)
SEEDS = (0, 2)  # together: crossfades, fades through black, all distractor kinds


@pytest.fixture(scope="module")
def videos(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[Path, VideoTruth, list[np.ndarray]]]:
    out = tmp_path_factory.mktemp("corpus")
    result = []
    for i, seed in enumerate(SEEDS):
        truth = generate_video(out, video_id(i), seed, CFG)
        cap = cv2.VideoCapture(str(out / "videos" / f"{truth.video_id}.mp4"))
        frames = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
        result.append((out, truth, frames))
    return result


def _events(videos) -> list[tuple[Path, VideoTruth, list[np.ndarray], EventTruth]]:
    return [(out, t, f, e) for out, t, f in videos for e in t.events]


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_decoded_stream_matches_the_truth(videos) -> None:
    for out, truth, frames in videos:
        assert load_truth(out / "truth" / f"{truth.video_id}.json") == truth
        cap = cv2.VideoCapture(str(out / "videos" / f"{truth.video_id}.mp4"))
        assert cap.get(cv2.CAP_PROP_FPS) == truth.fps
        assert len(frames) == truth.n_frames and truth.duration_s == pytest.approx(
            truth.n_frames / truth.fps
        )
        assert frames[0].shape == (truth.height, truth.width, 3)


def test_full_screen_frames_are_the_clean_good_photo(videos) -> None:
    for out, truth, frames, ev in _events(videos):
        good = cv2.imread(str(out / ev.good_clean_image))
        shown = letterbox(good, (truth.width, truth.height))
        assert (
            max(_mad(frames[k], shown) for k in range(ev.good.start_frame, ev.good.end_frame)) < 5
        )
        assert (
            min(
                _mad(frames[k], shown)
                for k in range(ev.viewfinder.start_frame, ev.viewfinder.end_frame)
            )
            > 15
        )
        x0, y0, x1, y1 = ev.good_display_box_px
        assert (x1 - x0, y1 - y0) == (good.shape[1], good.shape[0])


def test_poor_frame_preview_shows_the_clean_poor_photo(videos) -> None:
    for out, _, frames, ev in _events(videos):
        assert ev.viewfinder.start_frame <= ev.poor_frame < ev.viewfinder.end_frame
        assert ev.poor_frame_time_s == pytest.approx(ev.poor_frame / 12)
        x0, y0, x1, y1 = ev.poor_preview_box_px
        poor = cv2.resize(
            cv2.imread(str(out / ev.poor_clean_image)),
            (x1 - x0, y1 - y0),
            interpolation=cv2.INTER_AREA,
        )
        crop = frames[ev.poor_frame][y0:y1, x0:x1]
        top = (y1 - y0) // 3 - 1  # above the grid line and the subtitle
        assert _mad(crop[:top], poor[:top]) < 9


def _has_chrome(frame: np.ndarray) -> bool:
    h, w = frame.shape[:2]
    bar = np.median(frame[: round(0.08 * h)].reshape(-1, 3), axis=0)
    shutter = frame[h - round(0.085 * h), w // 2]
    return bool(np.abs(bar - BAR_COLOUR).max() <= 8 and shutter.min() > 150)  # pressed: grey


def test_viewfinder_frames_have_the_camera_ui_and_photos_do_not(videos) -> None:
    for _, _, frames, ev in _events(videos):
        assert all(
            _has_chrome(frames[k])
            for k in range(ev.viewfinder.start_frame, ev.viewfinder.end_frame)
        )
        assert not any(
            _has_chrome(frames[k]) for k in range(ev.good.start_frame, ev.good.end_frame)
        )


def test_fades_really_blend(videos) -> None:
    kinds = set()
    for _, truth, frames in videos:
        for t in truth.transitions:
            if t.kind == "cut":
                assert t.start_frame == t.end_frame
                continue
            kinds.add(t.kind)
            before, after = frames[t.start_frame - 1], frames[t.end_frame]
            mid = frames[(t.start_frame + t.end_frame) // 2]
            if t.kind == "crossfade":
                w = ((t.start_frame + t.end_frame) // 2 - t.start_frame + 1) / (
                    t.end_frame - t.start_frame + 1
                )
                mix = cv2.addWeighted(before, 1 - w, after, w, 0)
                assert _mad(mid, mix) < 0.3 * min(_mad(mid, before), _mad(mid, after))
            else:
                assert mid.mean() < 0.35 * max(before.mean(), after.mean())
    assert kinds == {"crossfade", "fade_black"}


def test_clean_photos_have_the_recorded_format(videos) -> None:
    for out, _, _, ev in _events(videos):
        for path, cam in (
            (ev.poor_clean_image, ev.camera.poor),
            (ev.good_clean_image, ev.camera.good),
        ):
            h, w = cv2.imread(str(out / path)).shape[:2]
            assert (w, h) == (cam.photo_width, cam.photo_height)
            assert abs(w / h - ASPECTS[cam.aspect]) <= 2.5 / h
        if "aspect" in ev.changes:
            assert (
                ev.changes["aspect"]["poor"]["aspect"]
                == ev.camera.poor.aspect
                != ev.camera.good.aspect
            )


def test_events_distractors_and_narration_are_consistent(videos) -> None:
    for _, truth, _ in videos:
        assert 2 <= len(truth.events) <= 3
        for d in truth.distractors:
            for ev in truth.events:
                for iv in (ev.viewfinder, ev.good):
                    assert d.end_frame <= iv.start_frame or d.start_frame >= iv.end_frame
            if d.kind == "before_after":
                assert d.event is not None and d.start_frame >= truth.events[d.event].good.end_frame
        for ev in truth.events:
            assert ev.good.start_frame == ev.viewfinder.end_frame
            assert [n.change for n in ev.narration] == list(ev.changes)
            assert ev.narration[0].start_frame == ev.viewfinder.start_frame
            assert ev.narration[-1].end_frame == ev.viewfinder.end_frame
            for name, change in ev.changes.items():
                for field, value in change["poor"].items():
                    recorded = (
                        ev.subject.pose_poor if field == "pose" else getattr(ev.camera.poor, field)
                    )
                    assert recorded == value, name
    assert {d.kind for _, t, _ in videos for d in t.distractors} == {
        "title_card",
        "broll",
        "before_after",
    }


def test_regenerating_replaces_the_previous_outputs(videos, tmp_path: Path) -> None:
    stale = tmp_path / "truth" / "tut_0000"
    stale.mkdir(parents=True)
    (stale / "event_9_poor.png").write_bytes(b"old")
    truth = generate_video(tmp_path, "tut_0000", SEEDS[0], CFG)
    assert truth == videos[0][1]
    assert not (stale / "event_9_poor.png").exists()
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["tut_0000.mp4"]


def test_plan_video_is_cheap_and_deterministic() -> None:
    a, b = plan_video(5, CFG), plan_video(5, CFG)
    assert a.timeline == b.timeline and a.events == b.events and a.size == (320, 180)


def test_make_event_is_a_quick_fixture() -> None:
    ev = make_event(3, (320, 180))
    again = make_event(3, (320, 180))
    assert np.array_equal(ev.photos.poor, again.photos.poor) and np.array_equal(
        ev.photos.good, again.photos.good
    )
    assert ev.photos.good.shape[0] == 180 or ev.photos.good.shape[1] == 320
    assert 2 <= len(ev.plan.changes) <= 5
    x0, y0, x1, y1 = ev.photos.box_good
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
