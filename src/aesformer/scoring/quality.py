"""Technical image quality: focus, exposure clipping, noise (no reference needed)."""

from __future__ import annotations

import cv2
import numpy as np


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian on a 512-px-wide copy (comparable across resolutions)."""
    gray = _gray(image)
    if gray.shape[1] > 512:
        gray = cv2.resize(
            gray,
            (512, max(1, round(gray.shape[0] * 512 / gray.shape[1]))),
            interpolation=cv2.INTER_AREA,
        )
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def clipping(image: np.ndarray, low: int = 3, high: int = 252) -> tuple[float, float]:
    """Fractions of pixels crushed to black (<= ``low``) and blown to white (>= ``high``)."""
    gray = _gray(image)
    return float((gray <= low).mean()), float((gray >= high).mean())


def exposure(image: np.ndarray) -> float:
    """Mean brightness in 0..1 (0.5 is mid-grey)."""
    return float(_gray(image).mean()) / 255.0


def noise_sigma(image: np.ndarray) -> float:
    """Gaussian noise estimate (Immerkær 1996): fast, robust to image content, 0..255 scale."""
    gray = _gray(image).astype(np.float64)
    h, w = gray.shape
    if h < 3 or w < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    conv = cv2.filter2D(gray, -1, kernel)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(conv).sum() / (6 * (w - 2) * (h - 2)))
