"""Structural changes between the poor and the good shot of an event, and their narration.

A *shot* is a camera (:class:`~aesformer.corpus.camera.CameraParams`) plus the subject's pose.
The good shot is drawn first (well composed); each change then sets the values of a few shot
fields at both ends (``poor`` and ``good``) and comes with the narration line a photography
teacher would say to go from one to the other. The narration is derived from the recorded
values (direction, degrees, metres, stops), so it is always consistent with the rendering.

Changes (:data:`CHANGE_ORDER`, also the order in which they are narrated and performed):

- ``aspect``: photo format; ``zoom``: ``subject_height`` (distance to the subject);
- ``viewpoint``: ``yaw_deg`` / ``pitch_deg`` perspective; ``tilt``: ``roll_deg``;
- ``position``: ``subject_x`` / ``subject_y``; ``pose``: the figure's pose (figures only);
- ``focus``: ``blur_sigma`` of the background; ``exposure``: ``gain`` / ``wb_shift``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from aesformer.corpus.camera import ASPECTS, CameraParams
from aesformer.corpus.subject import NEUTRAL_POSE, SubjectSpec

Value = float | str
CHANGE_ORDER: tuple[str, ...] = (
    "aspect",
    "zoom",
    "viewpoint",
    "tilt",
    "position",
    "pose",
    "focus",
    "exposure",
)
CHANGES_PER_EVENT = (2, 5)
VFOV_DEG = 45.0
"""Nominal vertical field of view of the phone camera, for the distances in the narration."""

PRONOUNS: dict[str, tuple[str, str, str]] = {
    "her": ("she", "her", "her"),
    "him": ("he", "him", "his"),
}
"""Subject pronoun -> (subject, object, possessive) forms."""
NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


@dataclass(frozen=True)
class Shot:
    """What a photo depends on besides the world: the camera and the subject's pose."""

    camera: CameraParams
    pose: str | None

    def updated(self, values: Mapping[str, Value]) -> Shot:
        """A copy with ``values`` (camera field names, or ``pose``) replaced."""
        cam = {k: v for k, v in values.items() if k != "pose"}
        pose = values.get("pose", self.pose)
        return Shot(dataclasses.replace(self.camera, **cam), None if pose is None else str(pose))

    def value(self, name: str) -> Value | None:
        """The value of a shot field by name."""
        return self.pose if name == "pose" else getattr(self.camera, name)


@dataclass(frozen=True)
class Change:
    """One structural change: field values at both ends, derived quantities, narration."""

    name: str
    poor: dict[str, Value]
    good: dict[str, Value]
    narration: str
    detail: dict[str, Value] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What the change drawers need to know besides the good shot."""

    subject: SubjectSpec
    world_height: int

    def subj(self) -> str:
        return PRONOUNS[self.subject.pronoun][0]

    def obj(self) -> str:
        return PRONOUNS[self.subject.pronoun][1]

    def poss(self) -> str:
        return PRONOUNS[self.subject.pronoun][2]


# --------------------------------------------------------------------------- wording
def spoken_amount(value: float, unit: str, plural: str) -> str:
    """``0.5 -> "half a meter"``, ``2 -> "two meters"``, ``1.5 -> "one and a half meters"``."""
    whole, half = int(value), (value - int(value)) >= 0.5
    if whole == 0:
        return f"half a {unit}"
    word = NUMBER_WORDS[whole] if whole < len(NUMBER_WORDS) else str(whole)
    if half:
        return f"{word} and a half {plural}"
    return f"{word} {unit if whole == 1 else plural}"


def distance_m(subject_height: float, real_height_m: float) -> float:
    """Nominal camera-to-subject distance for a subject filling ``subject_height`` of the frame."""
    return real_height_m / (subject_height * 2 * math.tan(math.radians(VFOV_DEG) / 2))


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


# --------------------------------------------------------------------------- drawers
ASPECT_WORDS = {
    "16:9": "switch to the wide 16:9 format",
    "4:3": "switch to the 4:3 format",
    "3:4": "turn the phone upright and shoot in 3:4 portrait format",
    "1:1": "try the square 1:1 format",
}


def _aspect(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    poor = str(rng.choice([a for a in ASPECTS if a != good.camera.aspect]))
    return Change(
        "aspect", {"aspect": poor}, {"aspect": good.camera.aspect}, ASPECT_WORDS[good.camera.aspect]
    )


def _zoom(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    sh = good.camera.subject_height
    too_far = bool(rng.random() < 0.5)
    poor = _r(
        max(0.3, sh * rng.uniform(0.4, 0.6)) if too_far else min(1.35, sh * rng.uniform(1.4, 1.8))
    )
    d_poor, d_good = (
        distance_m(poor, ctx.subject.real_height_m),
        distance_m(sh, ctx.subject.real_height_m),
    )
    step = max(0.5, round(abs(d_good - d_poor) * 2) / 2)
    amount = spoken_amount(step, "meter", "meters")
    if too_far:
        text = f"step {amount} closer, {ctx.subj()} is too small in the frame"
    else:
        whole = "feet" if ctx.subject.posable else "shoulders"
        text = f"step back {amount} so {ctx.poss()} {whole} are in the frame"
    detail: dict[str, Value] = {
        "direction": "closer" if too_far else "back",
        "step_m": step,
        "poor_distance_m": _r(d_poor, 2),
        "good_distance_m": _r(d_good, 2),
    }
    return Change("zoom", {"subject_height": poor}, {"subject_height": sh}, text, detail)


def _viewpoint(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    which = str(rng.choice(["yaw", "pitch", "both"]))
    yaw = _r(rng.choice([-1, 1]) * rng.uniform(12, 25), 2) if which != "pitch" else 0.0
    pitch = _r(rng.choice([-1, 1]) * rng.uniform(8, 16), 2) if which != "yaw" else 0.0
    parts = []
    if pitch:
        parts.append(f"{'lower' if pitch < 0 else 'raise'} the camera to chest height")
    if yaw:
        parts.append(
            f"take a step to your {'left' if yaw > 0 else 'right'} to face {ctx.obj()} straight on"
        )
    return Change(
        "viewpoint",
        {"yaw_deg": yaw, "pitch_deg": pitch},
        {"yaw_deg": good.camera.yaw_deg, "pitch_deg": good.camera.pitch_deg},
        " and ".join(parts),
    )


def _tilt(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    roll = _r(rng.choice([-1, 1]) * rng.uniform(3, 9), 2)
    turn = "counter-clockwise" if roll > 0 else "clockwise"
    degrees = round(abs(roll))
    text = f"level the horizon, rotate the phone about {NUMBER_WORDS[degrees]} degrees {turn}"
    return Change(
        "tilt", {"roll_deg": roll}, {"roll_deg": good.camera.roll_deg}, text, {"rotate": turn}
    )


def _position(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    gx, gy = good.camera.subject_x, good.camera.subject_y
    lo, hi = (0.15, gx - 0.15), (gx + 0.15, 0.85)
    span_lo, span_hi = max(0.0, lo[1] - lo[0]), max(0.0, hi[1] - hi[0])
    u = rng.uniform(0, span_lo + span_hi)
    px = _r(lo[0] + u if u < span_lo else hi[0] + u - span_lo)
    py = (
        _r(np.clip(gy + rng.choice([-1, 1]) * rng.uniform(0.06, 0.12), 0.3, 0.7))
        if rng.random() < 0.5
        else gy
    )
    side = "left" if gx < 0.5 else "right"
    text = f"move {ctx.obj()} to the {side} third of the frame"
    if py > gy:
        text += f" and tilt down a little to cut the empty space above {ctx.poss()} head"
    elif py < gy:
        text += f" and tilt up a little to give {ctx.obj()} more headroom"
    return Change(
        "position",
        {"subject_x": px, "subject_y": py},
        {"subject_x": gx, "subject_y": gy},
        text,
        {"third": side},
    )


POSE_WORDS = {
    "right_arm_raised": "ask {o} to raise {p} right arm",
    "left_arm_raised": "ask {o} to raise {p} left arm",
    "hands_on_hips": "ask {o} to put both hands on {p} hips",
    "hand_on_hip": "ask {o} to rest {p} right hand on {p} hip",
}


def _pose(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    text = POSE_WORDS[str(good.pose)].format(o=ctx.obj(), p=ctx.poss())
    return Change("pose", {"pose": NEUTRAL_POSE}, {"pose": str(good.pose)}, text)


def _focus(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    sigma = _r(rng.uniform(0.006, 0.012) * ctx.world_height, 1)
    return Change(
        "focus",
        {"blur_sigma": 0.0},
        {"blur_sigma": sigma},
        "switch to portrait mode to blur the busy background",
    )


def _exposure(rng: np.random.Generator, good: Shot, ctx: Context) -> Change:
    which = str(rng.choice(["gain", "wb", "both"]))
    gain, wb = 1.0, 0.0
    parts = []
    if which != "wb":
        gain = _r(rng.uniform(0.45, 0.7) if rng.random() < 0.5 else rng.uniform(1.45, 1.9))
        stops = max(0.5, round(abs(math.log2(gain)) * 2) / 2)
        verb = "raise" if gain < 1 else "lower"
        parts.append(f"{verb} the exposure by about {spoken_amount(stops, 'stop', 'stops')}")
    if which != "gain":
        wb = _r(rng.choice([-1, 1]) * rng.uniform(0.3, 0.6))
        parts.append(f"{'warm up' if wb < 0 else 'cool down'} the white balance")
    detail: dict[str, Value] = {"ev": _r(math.log2(1.0 / gain), 3)}
    return Change(
        "exposure",
        {"gain": gain, "wb_shift": wb},
        {"gain": good.camera.gain, "wb_shift": good.camera.wb_shift},
        " and ".join(parts),
        detail,
    )


DRAWERS: dict[str, Callable[[np.random.Generator, Shot, Context], Change]] = {
    "aspect": _aspect,
    "zoom": _zoom,
    "viewpoint": _viewpoint,
    "tilt": _tilt,
    "position": _position,
    "pose": _pose,
    "focus": _focus,
    "exposure": _exposure,
}


def available_changes(subject: SubjectSpec) -> tuple[str, ...]:
    """Names of the changes that apply to ``subject`` (only figures can change pose)."""
    return tuple(n for n in CHANGE_ORDER if n != "pose" or subject.posable)


def draw_changes(rng: np.random.Generator, good: Shot, ctx: Context) -> tuple[Change, ...]:
    """A random subset of 2-5 applicable changes, in :data:`CHANGE_ORDER`."""
    names = available_changes(ctx.subject)
    k = int(rng.integers(CHANGES_PER_EVENT[0], min(CHANGES_PER_EVENT[1], len(names)) + 1))
    chosen = set(rng.choice(names, size=k, replace=False).tolist())
    return tuple(DRAWERS[n](rng, good, ctx) for n in names if n in chosen)


def apply_changes(base: Shot, changes: tuple[Change, ...]) -> tuple[Shot, Shot]:
    """``(poor, good)`` shots: ``base`` with every change's good, resp. poor, values."""
    good = base
    for c in changes:
        good = good.updated(c.good)
    poor = good
    for c in changes:
        poor = poor.updated(c.poor)
    return poor, good
