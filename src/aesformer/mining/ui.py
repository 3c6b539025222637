"""Camera-app UI found from frame content: the shutter button, the chrome bars, the preview.

A phone camera app, as screen-recorded in tutorials, draws the live image between two opaque
*chrome bars* (status bar; mode labels and a large, bright, round *shutter button*) and shows
the photo inside that *preview area* at its own aspect ratio, with black pillar or letter bars
where the format does not fill it. Nothing here knows a particular app's layout:

- the shutter is the largest bright, filled, near-circular blob sitting on a uniform surround;
- a bar row is a row whose typical pixel has the colour of that surround (sparse text and
  icons on the bar do not change a row's median);
- the photo is the bounding box of the non-black rows/columns of the preview area.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Box:
    """Pixel rectangle ``[x0, x1) x [y0, y1)``."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def w(self) -> int:
        return self.x1 - self.x0

    @property
    def h(self) -> int:
        return self.y1 - self.y0

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def crop(self, image: np.ndarray) -> np.ndarray:
        return image[self.y0 : self.y1, self.x0 : self.x1]

    def scaled(self, s: float) -> Box:
        return Box(round(self.x0 * s), round(self.y0 * s), round(self.x1 * s), round(self.y1 * s))

    def as_list(self) -> list[int]:
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True)
class Shutter:
    """A detected shutter button: centre, radius (pixels) and the bar colour around it."""

    cx: float
    cy: float
    r: float
    bar_level: float


@dataclass(frozen=True)
class CameraUI:
    """The UI of one viewfinder frame: the shutter and the preview area between the bars."""

    shutter: Shutter
    preview: Box


def find_shutter(
    frame: np.ndarray, min_radius: float = 0.025, max_radius: float = 0.15
) -> Shutter | None:
    """The shutter button of ``frame`` (BGR), or ``None``; radii are fractions of min(h, w)."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    side = min(h, w)
    _, bright = cv2.threshold(gray, 200, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    best: Shutter | None = None
    for c in contours:
        (cx, cy), r = cv2.minEnclosingCircle(c)
        if not min_radius * side <= r <= max_radius * side:
            continue
        if cv2.contourArea(c) < 0.7 * np.pi * r * r:
            continue
        level = _annulus_level(gray, cx, cy, r)
        if level is None:
            continue
        if best is None or r > best.r:
            best = Shutter(cx, cy, r, level)
    return best


def _annulus_level(gray: np.ndarray, cx: float, cy: float, r: float) -> float | None:
    """Median of a ring just outside the blob if that ring is uniform and not bright."""
    h, w = gray.shape
    yy, xx = np.ogrid[:h, :w]
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    ring = gray[(d2 >= (1.2 * r) ** 2) & (d2 <= (1.5 * r) ** 2)]
    if ring.size < 8:
        return None
    level = float(np.median(ring))
    spread = float(np.percentile(np.abs(ring.astype(np.float32) - level), 80))
    if level > 120 or spread > 12:
        return None
    return level


def bar_rows(gray: np.ndarray, level: float, tol: float = 10.0) -> np.ndarray:
    """Boolean per row: the row's median is the bar colour and most of it is near it."""
    med = np.median(gray, axis=1)
    near = (np.abs(gray.astype(np.int16) - int(round(level))) <= tol).mean(axis=1)
    return (np.abs(med - level) <= tol) & (near >= 0.6)


def detect_ui(frame: np.ndarray, min_bar: float = 0.04) -> CameraUI | None:
    """The camera UI of ``frame`` or ``None`` when the frame is not a viewfinder frame.

    A viewfinder frame has a shutter lying inside a chrome bar at the top or bottom that is at
    least ``min_bar`` of the height, and a preview area between the bars taller than a third
    of the frame.
    """
    shutter = find_shutter(frame)
    if shutter is None:
        return None
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h = gray.shape[0]
    rows = bar_rows(gray, shutter.bar_level)
    top = _leading(rows)
    bottom = _leading(rows[::-1])
    # rows covered by the shutter itself are bar rows even if its disc dominates them
    if shutter.cy > h / 2:
        bottom = max(bottom, h - int(shutter.cy - 1.3 * shutter.r))
        if bottom < min_bar * h or h - bottom - top < h / 3:
            return None
    else:
        top = max(top, int(shutter.cy + 1.3 * shutter.r))
        if top < min_bar * h or h - bottom - top < h / 3:
            return None
    if not _bar_is_solid(rows, top, bottom, h):
        return None
    return CameraUI(shutter, Box(0, top, gray.shape[1], h - bottom))


def _leading(flags: np.ndarray) -> int:
    """Number of leading rows that are (mostly) bar rows, tolerating short text gaps."""
    n, gap, end = len(flags), 0, 0
    for i in range(n):
        if flags[i]:
            end, gap = i + 1, 0
        else:
            gap += 1
            if gap > max(2, n // 40):
                break
    return end


def _bar_is_solid(rows: np.ndarray, top: int, bottom: int, h: int) -> bool:
    """At least half of the rows claimed as bars really look like bar rows."""
    claimed = np.concatenate([rows[:top], rows[h - bottom :]])
    return claimed.size > 0 and claimed.mean() >= 0.5


def content_box(image: np.ndarray, black: float = 12.0, min_fraction: float = 0.5) -> Box:
    """Bounding box of the non-black part of ``image`` (strips pillar/letter bars).

    A column (row) is content when more than ``min_fraction`` of its pixels are brighter than
    ``black``; overlays drawn across a bar (subtitles) touch too few of its pixels to count.
    """
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    lit = gray > black
    cols = np.flatnonzero(lit.mean(axis=0) > min_fraction)
    if cols.size == 0:
        return Box(0, 0, gray.shape[1], gray.shape[0])
    x0, x1 = _longest_run(cols)
    rows = np.flatnonzero(lit[:, x0:x1].mean(axis=1) > min_fraction)
    if rows.size == 0:
        return Box(x0, 0, x1, gray.shape[0])
    y0, y1 = _longest_run(rows)
    return Box(int(x0), int(y0), int(x1), int(y1))


def _longest_run(idx: np.ndarray, max_gap: int = 3) -> tuple[int, int]:
    """``[start, end)`` of the longest run of sorted indices with gaps of at most ``max_gap``."""
    splits = np.flatnonzero(np.diff(idx) > max_gap) + 1
    runs = np.split(idx, splits)
    run = max(runs, key=len)
    return int(run[0]), int(run[-1]) + 1
