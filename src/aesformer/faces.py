"""Frontal-face detection shared by the stages that look for the subject (align, annotate).

The default backend is the LBP frontal-face cascade that ships with scikit-image (OpenCV 5 no
longer ships Haar/HOG detectors); it runs offline on CPU. Stages take a detector object, so a
stronger detector or a person embedding plugs in behind the same ``detect`` method at scale.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from skimage.feature import Cascade

#: A face box in pixels ``(x0, y0, x1, y1)``.
Box = tuple[int, int, int, int]
#: Head-and-shoulders region from a face box (multiples of the face size, relative to it).
REGION_LEFT, REGION_RIGHT, REGION_TOP, REGION_BOTTOM = -1.0, 2.0, -0.3, 2.5


class FaceCascadeDetector:
    """Frontal faces with scikit-image's LBP cascade (``lbpcascade_frontalface_opencv.xml``);
    ``min_size`` is the smallest face searched, as a share of the image height."""

    def __init__(self, min_size: float = 0.06, min_neighbours: int = 3) -> None:
        self.min_size = min_size
        self.min_neighbours = min_neighbours

    @cached_property
    def _cascade(self) -> Cascade:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        return Cascade(lbp_frontal_face_cascade_filename())

    def detect(self, image: np.ndarray) -> list[Box]:
        """Face boxes in a BGR ``uint8`` image."""
        h, w = image.shape[:2]
        side = max(8, round(self.min_size * h))
        found = self._cascade.detect_multi_scale(
            img=cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0,
            scale_factor=1.2,
            step_ratio=1,
            min_size=(side, side),
            max_size=(h, w),
            min_neighbor_number=self.min_neighbours,
        )
        return [(d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]) for d in found]
