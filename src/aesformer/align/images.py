"""Image loading and the analysis scale shared by the alignment checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class UnreadableImage(Exception):
    """An image file is missing, empty or cannot be decoded."""


def read_bgr(path: Path) -> np.ndarray:
    """Decode ``path`` as a 3-channel BGR ``uint8`` image or raise :class:`UnreadableImage`."""
    if not path.is_file():
        raise UnreadableImage(f"{path}: not found")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None or image.size == 0:
        raise UnreadableImage(f"{path}: cannot decode image")
    return image


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
