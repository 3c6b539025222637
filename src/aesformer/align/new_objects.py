"""New-object check: regions of the good image that the warped poor image does not explain.

The poor image is warped into the good frame by the scene homography, both are low-passed
(background blur is a legitimate change) and the poor image's colours are mapped onto the
good image's by a per-channel monotone tone curve fitted over the overlap (exposure and white
balance are legitimate changes). The colour distance, averaged over a
Gaussian window (``residual_window``, a fraction of the image height, so that misregistered
edges average out and textured objects do not), is the residual; above ``residual_threshold``
a pixel counts as changed; clipped pixels (saturated or black in either image)
are ignored because no tone curve can explain them.

Pose changes (an arm raised) leave thin residual strokes; an added object or a replaced person
leaves a *thick* region. A morphological opening with a disc of radius ``object_min_radius``
(a fraction of the image height) keeps only the thick parts; each remaining component larger
than ``object_min_area`` (a fraction of the image area) is a new object.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aesformer.config import AlignConfig

#: Channel values at or beyond these are treated as clipped.
CLIP_LOW, CLIP_HIGH = 4, 251
#: Bins of the fitted tone curve.
TONE_BINS = 32


@dataclass(frozen=True)
class Blob:
    """A residual region in the good image's analysis pixels: box ``(x0, y0, x1, y1)``."""

    box: tuple[int, int, int, int]
    area: int


def tone_curve(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Monotone 256-entry lookup table mapping ``src`` values onto ``dst`` (one channel).

    Binned medians of ``dst`` per ``src`` bin, interpolated, made non-decreasing.
    """
    edges = np.linspace(0, 256, TONE_BINS + 1)
    centres, values = [], []
    idx = np.digitize(src, edges) - 1
    for b in range(TONE_BINS):
        sel = dst[idx == b]
        if sel.size >= 8:
            centres.append(float(src[idx == b].mean()))
            values.append(float(np.median(sel)))
    if len(centres) < 2:
        return np.arange(256, dtype=np.float32) + float(np.median(dst) - np.median(src))
    lut = np.interp(np.arange(256), centres, values).astype(np.float32)
    return np.maximum.accumulate(lut)


@dataclass(frozen=True)
class Comparison:
    """The warped poor image tone-matched to the good one, both low-passed (``float32``)."""

    mapped: np.ndarray
    good: np.ndarray
    valid: np.ndarray

    @property
    def residual(self) -> np.ndarray:
        """Per-pixel colour distance (0..441); 0 where not ``valid``."""
        dist = np.linalg.norm(self.mapped - self.good, axis=2)
        dist[~self.valid] = 0
        return dist


def compare(warped: np.ndarray, good: np.ndarray, mask: np.ndarray, blur_px: float) -> Comparison:
    """Low-pass both images and map ``warped``'s colours onto ``good``'s over ``mask``;
    ``valid`` is ``mask`` without the pixels clipped in either image."""
    a = cv2.GaussianBlur(warped, (0, 0), blur_px)
    b = cv2.GaussianBlur(good, (0, 0), blur_px)
    valid = mask & ~_clipped(a) & ~_clipped(b)
    mapped = a.astype(np.float32)
    if valid.sum() >= 64:
        for c in range(3):
            lut = tone_curve(a[..., c][valid], b[..., c][valid])
            mapped[..., c] = lut[a[..., c]]
    return Comparison(mapped, b.astype(np.float32), valid)


def _clipped(image: np.ndarray) -> np.ndarray:
    return ((image <= CLIP_LOW) | (image >= CLIP_HIGH)).any(axis=2)


def find_new_objects(residual: np.ndarray, cfg: AlignConfig) -> list[Blob]:
    """Thick residual regions (see module docstring), largest first."""
    h, w = residual.shape
    smooth = cv2.GaussianBlur(residual, (0, 0), max(0.5, cfg.residual_window * h))
    changed = (smooth > cfg.residual_threshold).astype(np.uint8)
    radius = max(1, round(cfg.object_min_radius * h))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    thick = cv2.morphologyEx(changed, cv2.MORPH_OPEN, disc)
    n, _, stats, _ = cv2.connectedComponentsWithStats(thick)
    min_area = cfg.object_min_area * h * w
    blobs = [
        Blob((int(x), int(y), int(x + bw), int(y + bh)), int(area))
        for x, y, bw, bh, area in stats[1:n]
        if area >= min_area
    ]
    return sorted(blobs, key=lambda b: -b.area)
