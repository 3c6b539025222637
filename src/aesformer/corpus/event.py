"""One shooting event: its design (scene, subject, good/poor shot, changes, schedule) and frames.

Viewfinder schedule (frame indices relative to the viewfinder segment, ``n`` frames):

- ``[0, hold)``: the camera holds the exact poor shot, no shake (the clean poor frame);
- ``[hold, n - settle)``: the changes are performed one after another, each in its own window,
  in :data:`~aesformer.corpus.changes.CHANGE_ORDER`; continuous fields (angles, position,
  zoom, exposure) ease in with a smoothstep, discrete ones (aspect, pose, portrait-mode blur)
  switch at the middle of their window; optional hand-shake is added inside this interval;
- ``[n - settle, n)``: the exact good shot; the shutter button is shown pressed at the end.

Narration line ``i`` runs over change ``i``'s window, the first from frame 0, the last to ``n``.
The world (backdrop + subject) is rendered once per event and per (pose, blur) state visited,
as an image pyramid; each frame is then one perspective warp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from aesformer.corpus import scene as scn
from aesformer.corpus.camera import (
    Anchor,
    CameraParams,
    apply_exposure,
    build_pyramid,
    fit_size,
    homography,
    project_box,
    render_view,
)
from aesformer.corpus.changes import Change, Context, Shot, Value, apply_changes, draw_changes
from aesformer.corpus.subject import (
    NEUTRAL_POSE,
    POSES,
    Sprite,
    SubjectSpec,
    draw_real_subject,
    draw_subject,
    render_sprite,
)
from aesformer.corpus.ui import ViewfinderChrome

SUBJECT_WORLD_HEIGHT = 0.3
"""Height of the subject's anchor box, as a fraction of the world height."""
DISCRETE_FIELDS = frozenset({"aspect", "pose", "blur_sigma"})
"""Shot fields that switch (mid-window) instead of easing: format, pose, portrait mode."""
GOOD_ASPECTS = {"3:4": 0.4, "4:3": 0.2, "1:1": 0.2, "16:9": 0.2}
HOLD_S, SETTLE_S, PRESS_S = 0.8, 0.5, 0.2
REAL_BACKDROP_PROBABILITY = 0.6
"""With ``real_footage``: chance that an event is shot in front of a real photo."""
REAL_SUBJECT_PROBABILITY = 0.5
"""With ``real_footage``: chance that the subject is a real-photo cut-out."""
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Schedule:
    """Frame windows of a viewfinder run (see the module docstring)."""

    n_frames: int
    hold: int
    settle: int
    windows: tuple[tuple[int, int], ...]
    narration: tuple[tuple[int, int], ...]
    press: int

    @staticmethod
    def build(n_frames: int, fps: int, n_changes: int) -> Schedule:
        hold = max(1, min(round(HOLD_S * fps), round(0.2 * n_frames)))
        settle = max(1, min(round(SETTLE_S * fps), round(0.12 * n_frames)))
        motion = n_frames - hold - settle
        cuts = [hold + motion * i // n_changes for i in range(n_changes + 1)]
        windows = tuple(zip(cuts[:-1], cuts[1:], strict=True))
        starts = [0, *cuts[1:-1]]
        ends = [*cuts[1:-1], n_frames]
        press = max(1, min(settle, round(PRESS_S * fps)))
        return Schedule(
            n_frames, hold, settle, windows, tuple(zip(starts, ends, strict=True)), press
        )

    def progress(self, change: int, frame: int) -> float:
        """Eased progress 0..1 of change ``change`` at viewfinder frame ``frame``."""
        a, b = self.windows[change]
        u = min(1.0, max(0.0, (frame - a + 1) / max(1, b - a)))
        return u * u * (3 - 2 * u)

    def shake_envelope(self, frame: int) -> float:
        """0 in the holds, rising to 1 in the middle of the motion interval."""
        motion = self.n_frames - self.hold - self.settle
        if motion <= 0 or not self.hold <= frame < self.n_frames - self.settle:
            return 0.0
        return math.sin(math.pi * (frame - self.hold + 0.5) / motion)


@dataclass(frozen=True)
class Shake:
    """Hand-shake: smooth sums of sinusoids in position (photo heights) and roll (degrees)."""

    amplitude: float
    roll_deg: float
    freqs: tuple[float, ...]
    phases: tuple[float, ...]

    def offset(self, t: float) -> tuple[float, float, float]:
        """``(dx, dy, droll)`` at time ``t`` seconds (before the envelope)."""
        waves = [
            sum(
                math.sin(2 * math.pi * f * t + self.phases[3 * axis + j])
                for j, f in enumerate(self.freqs)
            )
            / len(self.freqs)
            for axis in range(3)
        ]
        return self.amplitude * waves[0], self.amplitude * waves[1], self.roll_deg * waves[2]


@dataclass(frozen=True)
class EventPlan:
    """Everything drawn for one event; rendering it is deterministic."""

    index: int
    video_size: tuple[int, int]
    fps: int
    scene: scn.SceneSpec
    subject: SubjectSpec
    world_size: tuple[int, int]
    anchor_centre_x: float
    anchor_feet_y: float
    changes: tuple[Change, ...]
    poor: Shot
    good: Shot
    schedule: Schedule
    shake: Shake


@dataclass(frozen=True)
class EventPhotos:
    """The clean photos of an event (BGR ``uint8``) and the subject box in each."""

    poor: np.ndarray
    good: np.ndarray
    box_poor: Box
    box_good: Box


@dataclass(frozen=True)
class FrameState:
    """What viewfinder frame ``k`` shows."""

    shot: Shot
    subtitle: str | None
    pressed: bool


# --------------------------------------------------------------------------- planning
def _draw_good_shot(rng: np.random.Generator, subject: SubjectSpec) -> Shot:
    aspects = list(GOOD_ASPECTS)
    cam = CameraParams(
        aspect=aspects[int(rng.choice(len(aspects), p=list(GOOD_ASPECTS.values())))],
        subject_height=round(float(rng.uniform(0.55, 0.75)), 3),
        subject_x=round(1 / 3 if rng.random() < 0.5 else 2 / 3, 4),
        subject_y=round(float(rng.uniform(0.5, 0.54)), 3),
    )
    lively = [p for p in POSES if p != NEUTRAL_POSE]
    pose = str(rng.choice(lively)) if subject.posable else None
    return Shot(cam, pose)


def _draw_shake(rng: np.random.Generator) -> Shake:
    steady = rng.random() < 0.3
    return Shake(
        amplitude=0.0 if steady else round(float(rng.uniform(0.002, 0.006)), 4),
        roll_deg=0.0 if steady else round(float(rng.uniform(0.1, 0.4)), 3),
        freqs=tuple(round(float(f), 3) for f in rng.uniform(0.7, 3.0, 3)),
        phases=tuple(round(float(p), 3) for p in rng.uniform(0, 2 * math.pi, 9)),
    )


def _real_footage(
    rng: np.random.Generator, spec: scn.SceneSpec, subject: SubjectSpec, feet_y: float
) -> tuple[scn.SceneSpec, SubjectSpec, float]:
    """Maybe swap the drawn backdrop for a real photo and the subject for a real cut-out."""
    if rng.random() < REAL_BACKDROP_PROBABILITY:
        b = scn.BACKDROPS[str(rng.choice(list(scn.BACKDROPS)))]
        spec = replace(
            spec,
            backdrop=b.source,
            palette="photo",
            ground="photo",
            horizon=b.horizon,
            path=False,
            buildings=(),
            trees=(),
            clouds=(),
        )
        feet_y = round(float(rng.uniform(*b.floor)), 4)
    if rng.random() < REAL_SUBJECT_PROBABILITY:
        subject = draw_real_subject(rng)
    return spec, subject, feet_y


def plan_event(
    rng: np.random.Generator,
    index: int,
    video_size: tuple[int, int],
    n_frames: int,
    fps: int,
    real_rng: np.random.Generator | None = None,
) -> EventPlan:
    """Draw event ``index`` of a ``video_size`` video whose viewfinder run lasts ``n_frames``.

    ``real_rng`` (the event's :data:`~aesformer.corpus.seeds.Stream.FOOTAGE` stream, given
    only with ``corpus.real_footage``) may replace the drawn backdrop with a real photo and the
    subject with a real cut-out; without it the draws are exactly those of the drawn corpus.
    """
    spec = scn.draw_scene(rng)
    subject = draw_subject(rng)
    world = scn.world_size(video_size[1])
    centre_x = round(float(rng.uniform(0.45, 0.55)), 4)
    feet_y = round(spec.horizon + float(rng.uniform(0.1, 0.18)), 4)
    if real_rng is not None:
        spec, subject, feet_y = _real_footage(real_rng, spec, subject, feet_y)
    base = _draw_good_shot(rng, subject)
    changes = draw_changes(rng, base, Context(subject, world[1]))
    poor, good = apply_changes(base, changes)
    return EventPlan(
        index=index,
        video_size=video_size,
        fps=fps,
        scene=spec,
        subject=subject,
        world_size=world,
        anchor_centre_x=centre_x,
        anchor_feet_y=feet_y,
        changes=changes,
        poor=poor,
        good=good,
        schedule=Schedule.build(n_frames, fps, len(changes)),
        shake=_draw_shake(rng),
    )


def _eased_values(plan: EventPlan, frame: int) -> dict[str, Value]:
    """Shot field values of the changes at ``frame``: eased, or switched at mid-window."""
    values: dict[str, Value] = {}
    for i, change in enumerate(plan.changes):
        p = plan.schedule.progress(i, frame)
        for name, b in change.good.items():
            a = change.poor[name]
            if name in DISCRETE_FIELDS or isinstance(a, str) or isinstance(b, str):
                values[name] = b if p >= 0.5 else a
            else:  # exact end values outside the window
                values[name] = a if p <= 0 else b if p >= 1 else a + (b - a) * p
    return values


def frame_state(plan: EventPlan, frame: int) -> FrameState:
    """Shot, subtitle and shutter state of viewfinder frame ``frame``."""
    shot = plan.poor.updated(_eased_values(plan, frame))
    env = plan.schedule.shake_envelope(frame)
    if env > 0 and plan.shake.amplitude > 0:
        dx, dy, dr = plan.shake.offset(frame / plan.fps)
        c = shot.camera
        shot = shot.updated(
            {
                "subject_x": c.subject_x + env * dx,
                "subject_y": c.subject_y + env * dy,
                "roll_deg": c.roll_deg + env * dr,
            }
        )
    subtitle = next(
        (
            c.narration
            for c, (a, b) in zip(plan.changes, plan.schedule.narration, strict=True)
            if a <= frame < b
        ),
        None,
    )
    return FrameState(shot, subtitle, frame >= plan.schedule.n_frames - plan.schedule.press)


# --------------------------------------------------------------------------- rendering
class EventRenderer:
    """Renders an :class:`EventPlan`: clean photos, subject boxes and viewfinder frames.

    World pyramids are cached per (pose, blur) state until :meth:`release`.
    """

    def __init__(self, plan: EventPlan, chrome: ViewfinderChrome | None = None) -> None:
        self.plan = plan
        self.chrome = chrome
        self._background: np.ndarray | None = None
        self._sprites: dict[str | None, tuple[Sprite, tuple[int, int]]] = {}
        self._worlds: dict[tuple[str | None, float], list[np.ndarray]] = {}

    # ------------------------------------------------------------------ world
    def _sprite(self, pose: str | None) -> tuple[Sprite, tuple[int, int]]:
        """The subject sprite in ``pose`` and its top-left offset in the world."""
        if pose not in self._sprites:
            ww, wh = self.plan.world_size
            sprite = render_sprite(
                self.plan.subject, POSES.get(pose or ""), round(SUBJECT_WORLD_HEIGHT * wh)
            )
            ax0, _, ax1, ay1 = sprite.anchor
            ox = round(self.plan.anchor_centre_x * ww - (ax0 + ax1) / 2)
            oy = round(self.plan.anchor_feet_y * wh - ay1)
            self._sprites[pose] = (sprite, (ox, oy))
        return self._sprites[pose]

    @property
    def anchor(self) -> Anchor:
        """The subject's anchor box in world pixels (the same for every pose)."""
        sprite, (ox, oy) = self._sprite(self.plan.good.pose)
        x0, y0, x1, y1 = sprite.anchor
        return Anchor(ox + x0, oy + y0, ox + x1, oy + y1)

    def world(self, pose: str | None, blur_sigma: float) -> list[np.ndarray]:
        """Pyramid of the world with the subject in ``pose`` and the background blurred."""
        key = (pose, blur_sigma)
        if key not in self._worlds:
            if self._background is None:
                self._background = scn.render_background(self.plan.scene, self.plan.world_size)
            image = scn.blur_background(self._background, blur_sigma).copy()
            sprite, offset = self._sprite(pose)
            sprite.paste(image, offset)
            self._worlds[key] = build_pyramid(image)
        return self._worlds[key]

    def release(self) -> None:
        """Free the rendered worlds (they are rebuilt on demand)."""
        self._background = None
        self._worlds.clear()

    # ------------------------------------------------------------------ photos
    def photo(self, shot: Shot, size: tuple[int, int]) -> np.ndarray:
        """The photo taken with ``shot`` at ``size = (w, h)`` (BGR ``uint8``)."""
        cam = shot.camera
        view = render_view(self.world(shot.pose, cam.blur_sigma), cam, self.anchor, size)
        return apply_exposure(view, cam.gain, cam.wb_shift)

    def clean_size(self, shot: Shot) -> tuple[int, int]:
        """Size of a clean photo: its format fitted to the full video frame."""
        return fit_size(shot.camera.ratio, *self.plan.video_size)

    def clean(self, shot: Shot) -> np.ndarray:
        """The clean photo of ``shot`` (no UI, no noise) at :meth:`clean_size`."""
        return self.photo(shot, self.clean_size(shot))

    def subject_box(self, shot: Shot) -> Box:
        """Normalised box of all visible subject pixels in the clean photo of ``shot``."""
        size = self.clean_size(shot)
        sprite, offset = self._sprite(shot.pose)
        box = project_box(sprite.alpha, offset, homography(shot.camera, self.anchor, size), size)
        if box is None:  # cannot happen: the camera puts the anchor centre inside the photo
            raise RuntimeError(f"event {self.plan.index}: subject not visible in a clean photo")
        return box

    def clean_photos(self) -> EventPhotos:
        """Both clean photos of the event and the subject boxes."""
        p = self.plan
        return EventPhotos(
            self.clean(p.poor),
            self.clean(p.good),
            self.subject_box(p.poor),
            self.subject_box(p.good),
        )

    # ------------------------------------------------------------------ viewfinder
    def viewfinder_frame(self, frame: int) -> np.ndarray:
        """Viewfinder frame ``frame`` (0-based within the event's viewfinder segment)."""
        if self.chrome is None:
            raise ValueError("viewfinder frames need a ViewfinderChrome")
        state = frame_state(self.plan, frame)
        cam = state.shot.camera
        rect = self.chrome.photo_rect(cam.aspect)
        photo = self.photo(state.shot, (rect.w, rect.h))
        mode = "PORTRAIT" if cam.blur_sigma > 0 else "PHOTO"
        return self.chrome.frame(
            photo, cam.aspect, mode, state.subtitle, state.pressed, level_deg=cam.roll_deg
        )
