"""Inpainting backends: fill masked overlay pixels. OpenCV's TELEA is the default.

A backend is any callable ``(image_bgr, mask_u8) -> image_bgr`` registered under a name;
learned inpainters (LaMa) or an instruction-following editing model used at scale plug in with
:func:`register` from the code that owns their weights, without touching the miner.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

import cv2
import numpy as np


class Inpainter(Protocol):
    """Fill the pixels of ``image`` where ``mask`` is non-zero; same size and dtype out."""

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def opencv_inpaint(image: np.ndarray, mask: np.ndarray, method: int, radius: int) -> np.ndarray:
    """OpenCV's fast-marching (TELEA) or Navier-Stokes inpainting."""
    if not mask.any():
        return image.copy()
    return cv2.inpaint(image, (mask > 0).astype(np.uint8) * 255, radius, method)


INPAINTERS: dict[str, Callable[[int], Inpainter]] = {
    "telea": lambda radius: partial(opencv_inpaint, method=cv2.INPAINT_TELEA, radius=radius),
    "ns": lambda radius: partial(opencv_inpaint, method=cv2.INPAINT_NS, radius=radius),
}


def register(name: str, factory: Callable[[int], Inpainter]) -> None:
    """Make ``factory(radius) -> Inpainter`` available as ``mine.inpaint_backend: name``."""
    INPAINTERS[name] = factory


def get_inpainter(name: str, radius: int) -> Inpainter:
    """The backend ``name`` (``telea``, ``ns`` or a registered one)."""
    if name not in INPAINTERS:
        raise ValueError(f"unknown inpaint backend {name!r}; known: {sorted(INPAINTERS)}")
    return INPAINTERS[name](radius)
