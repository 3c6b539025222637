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
    """The shutter button of ``frame`` (BGR), or ``None``; radii are fractions of min(h, w).

    Bright blobs (on a dark bar) and dark blobs (on a light bar) are both candidates; a blob
    counts by its outer contour, so a filled disc and a ring (whatever its centre holds) are
    found alike.
    """
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    side = min(h, w)
    best: Shutter | None = None
    for binary in (gray >= 200, gray <= 80):
        mask = binary.astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in contours:
            (cx, cy), r = cv2.minEnclosingCircle(c)
            if not min_radius * side <= r <= max_radius * side:
                continue
            # near-circular outline (contour areas run ~1 px inside the enclosing circle)
            if cv2.contourArea(c) < 0.85 * np.pi * max(r - 1.0, 1.0) ** 2:
                continue
            x, y, bw, bh = cv2.boundingRect(c)
            if min(bw, bh) < 2 * r - max(3.0, 0.1 * r):  # as wide as tall: a disc, not a blob
                continue
            blob = gray[y : y + bh, x : x + bw][mask[y : y + bh, x : x + bw] > 0]
            level = _annulus_level(gray, cx, cy, r)
            if level is None or blob.size == 0 or abs(float(np.median(blob)) - level) < 60:
                continue
            if best is None or r > best.r:
                best = Shutter(cx, cy, r, level)
    return best


def _annulus_level(gray: np.ndarray, cx: float, cy: float, r: float) -> float | None:
    """Median of a ring just outside the blob if that ring is uniform (the bar's colour)."""
    h, w = gray.shape
    x0, x1 = max(0, int(cx - 1.6 * r)), min(w, int(cx + 1.6 * r) + 1)
    y0, y1 = max(0, int(cy - 1.6 * r)), min(h, int(cy + 1.6 * r) + 1)
    yy, xx = np.ogrid[y0:y1, x0:x1]
    d2 = (xx - cx) ** 2 + (yy - cy) ** 2
    ring = gray[y0:y1, x0:x1][(d2 >= (1.2 * r) ** 2) & (d2 <= (1.5 * r) ** 2)]
    if ring.size < 8:
        return None
    level = float(np.median(ring))
    spread = float(np.percentile(np.abs(ring.astype(np.float32) - level), 80))
    if spread > 12:
        return None
    return level


def bar_rows(gray: np.ndarray, level: float, tol: float = 10.0) -> np.ndarray:
    """Boolean per row: the row's median is the bar colour and most of it is near it."""
    med = np.median(gray, axis=1)
    near = (np.abs(gray.astype(np.int16) - int(round(level))) <= tol).mean(axis=1)
    return (np.abs(med - level) <= tol) & (near >= 0.6)


def detect_ui(frame: np.ndarray, min_bar: float = 0.04) -> CameraUI | None:
    """The camera UI of ``frame`` or ``None`` when the frame is not a viewfinder frame.

    A viewfinder frame has a shutter lying inside a chrome bar along one side of the frame
    (top, bottom, left or right: the side nearest the shutter) that is at least ``min_bar`` of
    that dimension. Bars of the same colour along the other sides (a status bar) are cut off
    too; the preview area left must be larger than a third of the frame in both directions.
    """
    shutter = find_shutter(frame)
    if shutter is None:
        return None
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    h, w = gray.shape
    rows = bar_rows(gray, shutter.bar_level)
    cols = bar_rows(gray.T, shutter.bar_level)
    bars = {
        "top": _leading(rows),
        "bottom": _leading(rows[::-1]),
        "left": _leading(cols),
        "right": _leading(cols[::-1]),
    }
    cx, cy, r = shutter.cx, shutter.cy, shutter.r
    reach = {"top": cy / h, "bottom": (h - cy) / h, "left": cx / w, "right": (w - cx) / w}
    side = min(reach, key=lambda k: reach[k])
    # the pixels covered by the shutter itself belong to its bar even if the disc fills them;
    # a bar measured past the disc's inner edge is exact and kept (the 1.3 r margin would cut
    # a row of the preview)
    inner = {
        "top": int(np.ceil(cy + r)),
        "bottom": h - int(cy - r),
        "left": int(np.ceil(cx + r)),
        "right": w - int(cx - r),
    }[side]
    cover = {
        "top": int(cy + 1.3 * r),
        "bottom": h - int(cy - 1.3 * r),
        "left": int(cx + 1.3 * r),
        "right": w - int(cx - 1.3 * r),
    }[side]
    if bars[side] < inner:
        bars[side] = max(bars[side], cover)
    extent = h if side in ("top", "bottom") else w
    if bars[side] < min_bar * extent:
        return None
    preview = Box(bars["left"], bars["top"], w - bars["right"], h - bars["bottom"])
    if preview.h < h / 3 or preview.w < w / 3:
        return None
    if not (
        _bar_is_solid(rows, bars["top"], bars["bottom"])
        and _bar_is_solid(cols, bars["left"], bars["right"])
    ):
        return None
    return CameraUI(shutter, preview)


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


def _bar_is_solid(rows: np.ndarray, first: int, last: int) -> bool:
    """At least half of the rows (columns) claimed as bars really look like bar rows."""
    claimed = np.concatenate([rows[:first], rows[len(rows) - last :]])
    return claimed.size == 0 or claimed.mean() >= 0.5


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
