"""Locate the main subject of a photo: the largest frontal face, else a saliency centroid.

The annotate stage needs *where* the subject is (its position in both frames) and *which
pixels* are subject rather than background (the depth-of-field measure). A
:class:`SubjectLocator` returns a :class:`Subject` in normalised coordinates of the image.

The default :class:`FaceOrSaliencyLocator` uses scikit-image's LBP frontal-face cascade (the
largest face; the subject region is head and shoulders from the face box by body proportions)
and falls back to the spectral-residual saliency centroid when no face is found (figures seen
from afar, turned heads). Both run offline on the analysis-size image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from aesformer.faces import (
    REGION_BOTTOM,
    REGION_LEFT,
    REGION_RIGHT,
    REGION_TOP,
    FaceCascadeDetector,
)

#: Saliency fallback: map width, share of the most salient pixels kept, region half-size
#: (share of the image height) around the centroid.
SALIENCY_WIDTH, SALIENCY_TOP_SHARE, SALIENCY_HALF_W, SALIENCY_HALF_H = 96, 0.05, 0.15, 0.3


@dataclass(frozen=True)
class Subject:
    """Subject point ``(x, y)``, region ``box`` (everything that is subject, e.g. head and
    shoulders) and ``core`` (the part surely in focus, e.g. the face) as ``(x0, y0, x1, y1)``,
    all normalised to [0, 1]."""

    point: tuple[float, float]
    box: tuple[float, float, float, float]
    core: tuple[float, float, float, float]
    source: str  # "face" or "saliency"


class SubjectLocator(Protocol):
    """Finds the main subject of a BGR image."""

    def locate(self, image: np.ndarray) -> Subject: ...


def _clip_box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    return (max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1))


def saliency_subject(image: np.ndarray) -> Subject:
    """Spectral-residual saliency (Hou & Zhang 2007): centroid of the most salient pixels."""
    h, w = image.shape[:2]
    small_w = SALIENCY_WIDTH
    small_h = max(8, round(h * small_w / w))
    gray = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (small_w, small_h))
    spectrum = np.fft.fft2(gray.astype(np.float64))
    log_amp = np.log1p(np.abs(spectrum))
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), 2.5)
    cut = np.quantile(sal, 1.0 - SALIENCY_TOP_SHARE)
    ys, xs = np.nonzero(sal >= cut)
    weights = sal[ys, xs]
    cx = float((xs * weights).sum() / weights.sum() + 0.5) / small_w
    cy = float((ys * weights).sum() / weights.sum() + 0.5) / small_h
    half_w = SALIENCY_HALF_W * h / w
    box = _clip_box(cx - half_w, cy - SALIENCY_HALF_H, cx + half_w, cy + SALIENCY_HALF_H)
    core = _clip_box(
        cx - half_w / 2, cy - SALIENCY_HALF_H / 2, cx + half_w / 2, cy + SALIENCY_HALF_H / 2
    )
    return Subject((cx, cy), box, core, "saliency")


class FaceOrSaliencyLocator:
    """The largest frontal face (LBP cascade), else the saliency centroid."""

    def __init__(self, min_size: float = 0.06, min_neighbours: int = 3) -> None:
        self.detector = FaceCascadeDetector(min_size, min_neighbours)

    def faces(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Face boxes ``(x0, y0, x1, y1)`` in pixels."""
        return self.detector.detect(image)

    def locate(self, image: np.ndarray) -> Subject:
        faces = self.faces(image)
        if not faces:
            return saliency_subject(image)
        h, w = image.shape[:2]
        x0, y0, x1, y1 = max(faces, key=lambda f: (f[2] - f[0]) * (f[3] - f[1]))
        fw, fh = x1 - x0, y1 - y0
        box = _clip_box(
            (x0 + REGION_LEFT * fw) / w,
            (y0 + REGION_TOP * fh) / h,
            (x0 + REGION_RIGHT * fw) / w,
            (y0 + REGION_BOTTOM * fh) / h,
        )
        core = _clip_box(x0 / w, y0 / h, x1 / w, y1 / h)
        return Subject(((x0 + x1) / 2 / w, (y0 + y1) / 2 / h), box, core, "face")
