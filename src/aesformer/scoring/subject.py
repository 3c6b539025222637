"""The main subject's box: a detected person, else the dominant salient region."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

Box = tuple[float, float, float, float]  # normalised [x0, y0, x1, y1]


@cache
def _hog() -> object | None:
    """OpenCV's HOG people detector; OpenCV 5 moved it out of the main module (then None)."""
    if not hasattr(cv2, "HOGDescriptor"):
        return None
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def person_box(image: np.ndarray, min_score: float = 0.5) -> Box | None:
    """Largest person found by OpenCV's HOG people detector (normalised), or ``None``."""
    hog = _hog()
    if hog is None:
        return None
    h, w = image.shape[:2]
    scale = min(1.0, 400 / max(h, w))
    small = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image
    if min(small.shape[:2]) < 128:
        return None
    rects, weights = hog.detectMultiScale(  # type: ignore[attr-defined]
        small, winStride=(8, 8), padding=(8, 8), scale=1.05
    )
    best = None
    for (x, y, bw, bh), score in zip(rects, np.ravel(weights), strict=False):
        if score >= min_score and (best is None or bw * bh > best[2] * best[3]):
            best = (x, y, bw, bh)
    if best is None:
        return None
    x, y, bw, bh = best
    sh, sw = small.shape[:2]
    return (x / sw, y / sh, min(1.0, (x + bw) / sw), min(1.0, (y + bh) / sh))


def saliency_map(image: np.ndarray, size: int = 64) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) at ``size`` px wide, values 0..1."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    small = cv2.resize(gray, (size, max(8, round(h * size / w))), interpolation=cv2.INTER_AREA)
    spectrum = np.fft.fft2(small.astype(np.float64))
    log_amp = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amp - cv2.blur(log_amp, (3, 3))
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), 2.5)
    return (sal - sal.min()) / (np.ptp(sal) + 1e-12)


def salient_box(image: np.ndarray, quantile: float = 0.9) -> Box:
    """Bounding box of the largest connected region above the saliency ``quantile``."""
    sal = saliency_map(image)
    mask = (sal >= np.quantile(sal, quantile)).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
    sh, sw = sal.shape
    if n <= 1:
        return (0.0, 0.0, 1.0, 1.0)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, bw, bh = stats[k, :4]
    return (x / sw, y / sh, (x + bw) / sw, (y + bh) / sh)


def subject_box(image: np.ndarray) -> tuple[Box, str]:
    """The subject's normalised box and how it was found (``person`` or ``saliency``)."""
    box = person_box(image)
    return (box, "person") if box is not None else (salient_box(image), "saliency")
