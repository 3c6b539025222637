"""Image loading and the analysis scale shared by the alignment checks."""

from __future__ import annotations

import cv2
import numpy as np

from aesformer.fileio import UnreadableImage, read_bgr

__all__ = ["UnreadableImage", "gray", "read_bgr", "to_analysis"]


def to_analysis(image: np.ndarray, long_side: int) -> np.ndarray:
    """Resize so that the longer side is ``long_side`` pixels (area averaging when shrinking)."""
    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interp)


def gray(image: np.ndarray) -> np.ndarray:
    """Grayscale ``uint8`` of a BGR image."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
