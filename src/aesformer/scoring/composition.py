"""Composition measures: rule-of-thirds placement, horizon tilt, headroom (all 0..1 or deg)."""

from __future__ import annotations

import cv2
import numpy as np

from aesformer.scoring.subject import Box

THIRDS = (1 / 3, 2 / 3)


def thirds_score(box: Box) -> float:
    """1 when the subject's centre is on a third line, falling linearly to 0 a sixth away.

    Horizontal placement uses the nearer vertical third line; a subject filling the frame
    height scores on its horizontal placement only.
    """
    cx = (box[0] + box[2]) / 2
    cy = (box[1] + box[3]) / 2
    dx = min(abs(cx - t) for t in THIRDS)
    dy = min(abs(cy - t) for t in THIRDS) if box[3] - box[1] < 0.8 else 0.0
    return float(max(0.0, 1 - 6 * dx) * (0.5 + 0.5 * max(0.0, 1 - 6 * dy)))


def headroom(box: Box) -> float:
    """Space above the subject as a fraction of the frame height."""
    return float(max(0.0, box[1]))


def headroom_score(box: Box, ideal: tuple[float, float] = (0.04, 0.2)) -> float:
    """1 inside the ``ideal`` headroom range, falling off outside it (0 when cut at the top)."""
    top = box[1]
    lo, hi = ideal
    if top <= 0.005:
        return 0.0
    if top < lo:
        return top / lo
    if top > hi:
        return float(max(0.0, 1 - (top - hi) / (1 - hi)))
    return 1.0


def horizon_tilt(image: np.ndarray) -> float | None:
    """Angle (degrees, signed) of the dominant long near-horizontal line, or ``None``.

    Canny edges and a probabilistic Hough transform on a 320-px-wide copy; lines within 20° of
    horizontal vote with their length.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    s = 320 / w
    small = cv2.resize(gray, (320, max(8, round(h * s))), interpolation=cv2.INTER_AREA)
    edges = cv2.Canny(cv2.GaussianBlur(small, (5, 5), 0), 40, 120)
    lines = cv2.HoughLinesP(
        edges, 1, np.pi / 360, 40, minLineLength=small.shape[1] // 4, maxLineGap=8
    )
    if lines is None:
        return None
    angles, weights = [], []
    for x0, y0, x1, y1 in np.asarray(lines).reshape(-1, 4).astype(float):
        ang = float(np.degrees(np.arctan2(-(y1 - y0), x1 - x0)))
        if abs(ang) <= 20:
            angles.append(ang)
            weights.append(float(np.hypot(x1 - x0, y1 - y0)))
    if not angles:
        return None
    order = np.argsort(angles)
    cum = np.cumsum(np.asarray(weights)[order])
    return float(np.asarray(angles)[order][np.searchsorted(cum, cum[-1] / 2)])


def level_score(tilt_deg: float | None, tolerance: float = 8.0) -> float:
    """1 for a level horizon, 0 at ``tolerance`` degrees; 1 when no horizon is found."""
    return 1.0 if tilt_deg is None else float(max(0.0, 1 - abs(tilt_deg) / tolerance))
