"""The virtual camera: how a photo is derived from the rendered world.

The world is one large image (a planar backdrop with the subject standing in it). A camera is
described photographically, relative to the subject's *anchor box* (for a drawn figure: top of
the head to the soles; for a photo cut-out: the cut-out), and becomes a homography
``world pixels -> photo pixels`` built as

1. similarity: move the anchor centre to the origin, scale so the anchor is ``subject_height``
   of the photo height, rotate by ``roll_deg`` (positive = content turns counter-clockwise);
2. perspective: ``K R K^-1`` with ``K = diag(f, f, 1)``, ``f`` = one photo diagonal, ``R`` the
   rotation by ``yaw_deg`` (positive = the right side of the scene comes closer, i.e. the camera
   stands to the right of the subject's frontal axis) and ``pitch_deg`` (negative = camera held
   high looking down, the top comes closer; positive = camera low looking up);
3. translation so the anchor centre lands exactly on ``(subject_x, subject_y)`` (normalised
   photo coordinates, 0 = left/top edge, 1 = right/bottom edge).

Focus (``blur_sigma``) and exposure (``gain``, ``wb_shift``) are camera settings too: the first
selects which world variant is rendered, the second is a per-channel tone curve on the photo.
Coordinates are OpenCV pixel coordinates (pixel centres at integers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

ASPECTS: dict[str, float] = {"16:9": 16 / 9, "4:3": 4 / 3, "3:4": 3 / 4, "1:1": 1.0}
"""Photo formats, ``"w:h"`` -> width / height."""

WB_STRENGTH = 0.25
"""``wb_shift = 1`` multiplies red by ``1 + WB_STRENGTH`` and blue by ``1 - WB_STRENGTH``."""

MAX_PYRAMID_LEVELS = 4


@dataclass(frozen=True)
class CameraParams:
    """Full parameters of one virtual camera shot (see the module docstring for conventions)."""

    aspect: str
    roll_deg: float = 0.0
    subject_height: float = 0.65
    subject_x: float = 0.5
    subject_y: float = 0.5
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    blur_sigma: float = 0.0
    gain: float = 1.0
    wb_shift: float = 0.0

    @property
    def ratio(self) -> float:
        """Width / height of the photo format."""
        return ASPECTS[self.aspect]


@dataclass(frozen=True)
class Anchor:
    """The subject's anchor box in world pixel coordinates."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @property
    def height(self) -> float:
        return self.y1 - self.y0


def fit_size(ratio: float, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest even ``(w, h)`` with ``w / h`` close to ``ratio`` that fits in ``box_w x box_h``."""
    w, h = box_w, round(box_w / ratio)
    if h > box_h:
        w, h = round(box_h * ratio), box_h
    return max(2, w - w % 2), max(2, h - h % 2)


def _similarity(cam: CameraParams, anchor: Anchor, size: tuple[int, int]) -> np.ndarray:
    cx, cy = anchor.centre
    s = photo_scale(cam, anchor, size)
    th = math.radians(cam.roll_deg)
    c, si = math.cos(th) * s, math.sin(th) * s
    rot = np.array([[c, si, 0.0], [-si, c, 0.0], [0.0, 0.0, 1.0]])
    shift = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    return rot @ shift


def _perspective(cam: CameraParams, size: tuple[int, int]) -> np.ndarray:
    f = math.hypot(*size)
    yaw, pitch = math.radians(cam.yaw_deg), math.radians(cam.pitch_deg)
    r_yaw = np.array(
        [[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0], [-math.sin(yaw), 0.0, math.cos(yaw)]]
    )
    r_pitch = np.array(
        [
            [1.0, 0.0, 0.0],
            [0.0, math.cos(pitch), math.sin(pitch)],
            [0.0, -math.sin(pitch), math.cos(pitch)],
        ]
    )
    k = np.diag([f, f, 1.0])
    return k @ r_pitch @ r_yaw @ np.linalg.inv(k)


def photo_scale(cam: CameraParams, anchor: Anchor, size: tuple[int, int]) -> float:
    """Photo pixels per world pixel at the subject (before perspective)."""
    return cam.subject_height * size[1] / anchor.height


def homography(cam: CameraParams, anchor: Anchor, size: tuple[int, int]) -> np.ndarray:
    """3x3 matrix mapping world pixel coordinates to pixels of a ``size = (w, h)`` photo."""
    h0 = _perspective(cam, size) @ _similarity(cam, anchor, size)
    p = h0 @ np.array([*anchor.centre, 1.0])
    tx = cam.subject_x * size[0] - 0.5 - p[0] / p[2]
    ty = cam.subject_y * size[1] - 0.5 - p[1] / p[2]
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]]) @ h0


def build_pyramid(image: np.ndarray) -> list[np.ndarray]:
    """``image`` and successive ``cv2.pyrDown`` halvings (anti-aliased sources for warping)."""
    levels = [image]
    while len(levels) < MAX_PYRAMID_LEVELS and min(levels[-1].shape[:2]) >= 128:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def _level_to_world(level: int) -> np.ndarray:
    f = float(2**level)
    o = (f - 1.0) / 2.0
    return np.array([[f, 0.0, o], [0.0, f, o], [0.0, 0.0, 1.0]])


def render_view(
    pyramid: list[np.ndarray], cam: CameraParams, anchor: Anchor, size: tuple[int, int]
) -> np.ndarray:
    """The photo seen by ``cam`` at ``size``, before exposure (``uint8`` BGR).

    Samples the pyramid level whose resolution is just above the photo's, so that strong
    zoom-outs are not aliased; outside the world the backdrop is mirrored.
    """
    scale = photo_scale(cam, anchor, size)
    level = min(len(pyramid) - 1, max(0, math.floor(math.log2(1.0 / scale)))) if scale < 1 else 0
    m = homography(cam, anchor, size) @ _level_to_world(level)
    return cv2.warpPerspective(
        pyramid[level], m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def exposure_lut(gain: float, wb_shift: float) -> np.ndarray:
    """Per-channel (B, G, R) lookup table: ``v -> clip(round(v * gain * m_c), 0, 255)``."""
    mult = np.array([1.0 - WB_STRENGTH * wb_shift, 1.0, 1.0 + WB_STRENGTH * wb_shift]) * gain
    values = np.arange(256, dtype=np.float64)[:, None] * mult[None, :]
    return np.clip(np.rint(values), 0, 255).astype(np.uint8).reshape(1, 256, 3)


def apply_exposure(image: np.ndarray, gain: float, wb_shift: float) -> np.ndarray:
    """Exposure gain and colour-temperature shift of a BGR ``uint8`` image."""
    if gain == 1.0 and wb_shift == 0.0:
        return image
    return cv2.LUT(image, exposure_lut(gain, wb_shift))


def project_box(
    alpha: np.ndarray, offset: tuple[int, int], h: np.ndarray, size: tuple[int, int]
) -> tuple[float, float, float, float] | None:
    """Normalised ``[x0, y0, x1, y1]`` box of a sprite's opaque pixels in the photo.

    ``alpha`` is the sprite's coverage (``float`` 0..1) placed at world pixel ``offset``;
    ``h`` maps world to photo pixels. Returns ``None`` when nothing is visible.
    """
    place = np.array([[1.0, 0.0, offset[0]], [0.0, 1.0, offset[1]], [0.0, 0.0, 1.0]])
    warped = cv2.warpPerspective(
        (alpha * 255).astype(np.uint8), h @ place, size, flags=cv2.INTER_LINEAR
    )
    ys, xs = np.nonzero(warped >= 128)
    if xs.size == 0:
        return None
    w, hh = size
    return (xs.min() / w, ys.min() / hh, (xs.max() + 1) / w, (ys.max() + 1) / hh)
