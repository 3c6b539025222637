"""The photographed subject: a drawn person-like figure with a pose, or a real photo cut-out.

Both are rendered as a :class:`Sprite` (premultiplied colour + coverage, anti-aliased by 2x
supersampling) together with its *anchor box*, the part of the subject the camera composes on
(figure: top of the head to the soles, arms excluded so the anchor does not move when the
pose changes; cut-out: the whole cut-out).

Figure pose angles (degrees): ``*_shoulder_deg`` is the upper arm's angle from hanging straight
down, positive = swung outwards/up (180 = straight up); ``*_elbow_deg`` the forearm's angle
relative to the upper arm, positive = continuing outwards/up, negative = folding back towards
the body. "Right" is the figure's right, i.e. the image left (the figure faces the camera).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Literal

import cv2
import numpy as np
from skimage import data as skdata

BGR = tuple[int, int, int]
SUPERSAMPLE = 2

FIGURE_HEIGHT_M = 1.7
CUTOUT_HEIGHT_M = 0.9
CAMERAMAN_HEIGHT_M = 1.3
"""Real height of the cameraman cut-out (crouching, cut at the knees by the photo)."""

SKIN: tuple[BGR, ...] = ((150, 180, 224), (112, 150, 200), (70, 100, 150), (60, 80, 120))
HAIR: tuple[BGR, ...] = ((20, 24, 30), (40, 70, 110), (70, 140, 200), (120, 120, 124))
SHIRTS: tuple[BGR, ...] = (
    (40, 40, 200),
    (180, 110, 30),
    (60, 160, 240),
    (230, 230, 230),
    (120, 60, 120),
)
TROUSERS: tuple[BGR, ...] = ((90, 60, 30), (40, 40, 40), (30, 60, 120), (60, 90, 120))


@dataclass(frozen=True)
class Pose:
    """Joint angles of the figure's arms (conventions in the module docstring)."""

    name: str
    right_shoulder_deg: float
    right_elbow_deg: float
    left_shoulder_deg: float
    left_elbow_deg: float


POSES: dict[str, Pose] = {
    p.name: p
    for p in (
        Pose("arms_down", 8.0, 0.0, 8.0, 0.0),
        Pose("right_arm_raised", 150.0, 15.0, 8.0, 0.0),
        Pose("left_arm_raised", 8.0, 0.0, 150.0, 15.0),
        Pose("hands_on_hips", 40.0, -95.0, 40.0, -95.0),
        Pose("hand_on_hip", 40.0, -95.0, 8.0, 0.0),
    )
}
NEUTRAL_POSE = "arms_down"


@dataclass(frozen=True)
class FigureLook:
    """Colours of a drawn figure."""

    skin: BGR
    hair: BGR
    shirt: BGR
    trousers: BGR
    long_hair: bool


@dataclass(frozen=True)
class SubjectSpec:
    """Who is photographed: ``kind`` figure (drawn, posable) or photo (real image cut-out)."""

    kind: Literal["figure", "photo"]
    source: str
    pronoun: Literal["her", "him"]
    real_height_m: float
    look: FigureLook | None

    @property
    def posable(self) -> bool:
        return self.kind == "figure"


@dataclass(frozen=True)
class Sprite:
    """Premultiplied BGR colour (``float32``), coverage ``alpha`` (0..1) and the anchor box."""

    colour: np.ndarray
    alpha: np.ndarray
    anchor: tuple[float, float, float, float]

    def paste(self, image: np.ndarray, offset: tuple[int, int]) -> None:
        """Composite the sprite over ``image`` (in place) with its top-left at ``offset``."""
        ox, oy = offset
        h, w = self.alpha.shape
        x0, y0 = max(0, ox), max(0, oy)
        x1, y1 = min(image.shape[1], ox + w), min(image.shape[0], oy + h)
        if x1 <= x0 or y1 <= y0:
            return
        a = self.alpha[y0 - oy : y1 - oy, x0 - ox : x1 - ox, None]
        c = self.colour[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        roi = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = np.clip(np.rint(roi * (1.0 - a) + c), 0, 255).astype(np.uint8)


def draw_subject(rng: np.random.Generator) -> SubjectSpec:
    """Draw a random subject: mostly drawn figures, sometimes the astronaut portrait cut-out."""
    if rng.random() < 0.3:
        return SubjectSpec("photo", "astronaut", "her", CUTOUT_HEIGHT_M, None)
    pronoun: Literal["her", "him"] = "her" if rng.random() < 0.5 else "him"
    look = FigureLook(
        skin=SKIN[int(rng.integers(len(SKIN)))],
        hair=HAIR[int(rng.integers(len(HAIR)))],
        shirt=SHIRTS[int(rng.integers(len(SHIRTS)))],
        trousers=TROUSERS[int(rng.integers(len(TROUSERS)))],
        long_hair=pronoun == "her" and bool(rng.random() < 0.8),
    )
    return SubjectSpec("figure", "drawn", pronoun, FIGURE_HEIGHT_M, look)


def draw_real_subject(rng: np.random.Generator) -> SubjectSpec:
    """Draw one of the real-photo cut-outs of :data:`REAL_SUBJECTS`."""
    source = str(rng.choice(list(REAL_SUBJECTS)))
    pronoun, height = REAL_SUBJECTS[source]
    return SubjectSpec("photo", source, pronoun, height, None)


def render_sprite(spec: SubjectSpec, pose: Pose | None, anchor_height_px: int) -> Sprite:
    """Render the subject so that its anchor box is ``anchor_height_px`` pixels high."""
    if spec.look is not None:
        if pose is None:
            raise ValueError("a figure subject needs a pose")
        return _figure_sprite(spec.look, pose, anchor_height_px)
    return _cutout_sprite(spec.source, anchor_height_px)


# --------------------------------------------------------------------------- figure
class _Canvas:
    """Draws the same shapes on a colour canvas and a coverage mask (units of figure height)."""

    def __init__(self, unit: float, origin: tuple[float, float], size: tuple[int, int]) -> None:
        self.unit, self.origin = unit, origin
        self.colour = np.zeros((size[1], size[0], 3), np.uint8)
        self.mask = np.zeros((size[1], size[0]), np.uint8)

    def px(self, x: float, y: float) -> tuple[int, int]:
        return round(self.origin[0] + x * self.unit), round(self.origin[1] + y * self.unit)

    def length(self, v: float) -> int:
        return max(1, round(v * self.unit))

    def line(
        self, p0: tuple[float, float], p1: tuple[float, float], width: float, colour: BGR
    ) -> None:
        for img, c in ((self.colour, colour), (self.mask, 255)):
            cv2.line(img, self.px(*p0), self.px(*p1), c, self.length(width))

    def ellipse(
        self,
        centre: tuple[float, float],
        axes: tuple[float, float],
        colour: BGR,
        arc: tuple[int, int] = (0, 360),
    ) -> None:
        ax = (self.length(axes[0]), self.length(axes[1]))
        for img, c in ((self.colour, colour), (self.mask, 255)):
            cv2.ellipse(img, self.px(*centre), ax, 0, arc[0], arc[1], c, -1)

    def polygon(self, points: list[tuple[float, float]], colour: BGR) -> None:
        pts = np.array([self.px(*p) for p in points], np.int32)
        for img, c in ((self.colour, colour), (self.mask, 255)):
            cv2.fillPoly(img, [pts], c)


def _arm(
    canvas: _Canvas, side: int, shoulder_deg: float, elbow_deg: float, look: FigureLook
) -> None:
    """Draw one arm; ``side`` = -1 for the figure's right (image left), +1 for its left."""
    shoulder = (side * 0.1, 0.19)
    a1, a2 = math.radians(shoulder_deg), math.radians(shoulder_deg + elbow_deg)
    elbow = (shoulder[0] + side * 0.155 * math.sin(a1), shoulder[1] + 0.155 * math.cos(a1))
    wrist = (elbow[0] + side * 0.145 * math.sin(a2), elbow[1] + 0.145 * math.cos(a2))
    canvas.line(shoulder, elbow, 0.05, look.shirt)
    canvas.line(elbow, wrist, 0.042, look.skin)
    canvas.ellipse(wrist, (0.024, 0.024), look.skin)


def _figure_body(canvas: _Canvas, look: FigureLook) -> None:
    for side in (-1, 1):
        canvas.line((side * 0.05, 0.5), (side * 0.055, 0.73), 0.065, look.trousers)
        canvas.line((side * 0.055, 0.73), (side * 0.06, 0.955), 0.058, look.trousers)
        canvas.ellipse((side * 0.075, 0.975), (0.042, 0.024), (30, 30, 34))
    canvas.polygon(
        [(-0.105, 0.17), (0.105, 0.17), (0.08, 0.42), (0.095, 0.53), (-0.095, 0.53), (-0.08, 0.42)],
        look.shirt,
    )
    canvas.line((0.0, 0.12), (0.0, 0.18), 0.04, look.skin)


def _figure_head(canvas: _Canvas, look: FigureLook) -> None:
    if look.long_hair:
        canvas.polygon([(-0.062, 0.06), (0.062, 0.06), (0.07, 0.2), (-0.07, 0.2)], look.hair)
    canvas.ellipse((0.0, 0.068), (0.05, 0.068), look.skin)
    canvas.ellipse((0.0, 0.06), (0.055, 0.06), look.hair, arc=(180, 360))
    for side in (-1, 1):
        canvas.ellipse((side * 0.018, 0.07), (0.006, 0.005), (40, 30, 30))
    canvas.line((-0.014, 0.105), (0.014, 0.105), 0.006, (60, 60, 150))


def _figure_sprite(look: FigureLook, pose: Pose, height_px: int) -> Sprite:
    unit = height_px * SUPERSAMPLE
    top_margin, width = 0.2, 1.0
    size = (round(width * unit), round((top_margin + 1.02) * unit))
    canvas = _Canvas(unit, (width * unit / 2, top_margin * unit), size)
    _figure_body(canvas, look)
    _arm(canvas, -1, pose.right_shoulder_deg, pose.right_elbow_deg, look)
    _arm(canvas, 1, pose.left_shoulder_deg, pose.left_elbow_deg, look)
    _figure_head(canvas, look)
    anchor = (width / 2 - 0.13, top_margin, width / 2 + 0.13, top_margin + 1.0)
    return _downsample(canvas.colour, canvas.mask, tuple(v * height_px for v in anchor))


# --------------------------------------------------------------------------- photo cut-out
@dataclass(frozen=True)
class Cutout:
    """Cut-out shape in source-image pixels: head ellipse ``(cx, cy, rx, ry)`` + torso polygon."""

    head: tuple[int, int, int, int]
    torso: tuple[tuple[int, int], ...]


CUTOUTS: dict[str, Cutout] = {
    "astronaut": Cutout(
        head=(228, 100, 72, 88),
        torso=(
            (175, 160),
            (285, 160),
            (305, 200),
            (340, 250),
            (360, 290),
            (368, 511),
            (18, 511),
            (28, 300),
            (80, 240),
            (125, 195),
        ),
    ),
    # scikit-image's cameraman (grey): head, then his coat down to the photo's left/bottom edge
    "camera": Cutout(
        head=(210, 132, 50, 68),
        torso=(
            (160, 107),
            (133, 110),
            (87, 143),
            (27, 187),
            (0, 220),
            (0, 511),
            (87, 511),
            (100, 427),
            (143, 387),
            (200, 353),
            (227, 320),
            (260, 307),
            (280, 280),
            (287, 220),
            (267, 200),
            (240, 197),
            (200, 200),
        ),
    ),
}
REAL_SUBJECTS: dict[str, tuple[Literal["her", "him"], float]] = {
    "astronaut": ("her", CUTOUT_HEIGHT_M),
    "camera": ("him", CAMERAMAN_HEIGHT_M),
}
"""Photo cut-outs drawn with ``corpus.real_footage``: pronoun and real height."""


@cache
def _cutout_source(source: str) -> tuple[np.ndarray, np.ndarray]:
    """The source photo (BGR) and its cut-out mask, both at the photo's own resolution x2."""
    photo = getattr(skdata, source)()
    image = cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR if photo.ndim == 2 else cv2.COLOR_RGB2BGR)
    shape = CUTOUTS[source]
    s = SUPERSAMPLE
    mask = np.zeros((image.shape[0] * s, image.shape[1] * s), np.uint8)
    cx, cy, rx, ry = shape.head
    cv2.ellipse(mask, (cx * s, cy * s), (rx * s, ry * s), 0, 0, 360, 255, -1)
    cv2.fillPoly(mask, [np.array(shape.torso, np.int32) * s], 255)
    return image, mask


def _cutout_sprite(source: str, height_px: int) -> Sprite:
    image, mask = _cutout_source(source)
    ys, xs = np.nonzero(mask)
    y0, y1 = ys.min(), ys.max() + 1
    scale = height_px * SUPERSAMPLE / (y1 - y0)
    size = (round(mask.shape[1] * scale), round(mask.shape[0] * scale))
    big_mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    big_image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    big_image[big_mask == 0] = 0
    s = scale / SUPERSAMPLE
    anchor = (xs.min() * s, y0 * s, (xs.max() + 1) * s, y1 * s)
    return _downsample(big_image, big_mask, anchor)


def _downsample(colour: np.ndarray, mask: np.ndarray, anchor: tuple[float, ...]) -> Sprite:
    """Area-average a supersampled hard-edged drawing into an anti-aliased premultiplied sprite."""
    size = (colour.shape[1] // SUPERSAMPLE, colour.shape[0] // SUPERSAMPLE)
    c = cv2.resize(colour, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    a = cv2.resize(mask, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    x0, y0, x1, y1 = anchor
    return Sprite(colour=c, alpha=a, anchor=(x0, y0, x1, y1))
