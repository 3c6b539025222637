"""Same-person check: find faces, then compare the aligned person regions' appearance.

A :class:`PersonDetector` returns face boxes. Each face found in the good image, or in the poor
image and mapped into the good frame by the scene homography, defines a person region (head
and shoulders, from the face box by body proportions). Because the homography aligns the whole
scene, the same person occupies the same region in the tone-matched warped poor image and in
the good image; a replaced person does not. The two regions are compared by the correlation of
their hue-saturation histograms (lighting-tolerant). One detection in either image suffices,
so a face missed in one image (turned head, blur) does not fail the check.

The default backend is the LBP frontal-face cascade that ships with scikit-image (OpenCV 5
no longer ships Haar/HOG detectors). At scale, plug in a stronger detector or a person
embedding behind the same protocol. Where no face is found the identity is not verified here;
a replaced person then still shows as a thick residual region (:mod:`.new_objects`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from aesformer.config import AlignConfig
from aesformer.faces import (
    REGION_BOTTOM,
    REGION_LEFT,
    REGION_RIGHT,
    REGION_TOP,
    Box,
)

#: Minimum share of a person region that must be covered by both images to be compared.
MIN_REGION_OVERLAP = 0.4


class PersonDetector(Protocol):
    """Finds people's faces in a BGR image; returns pixel boxes ``(x0, y0, x1, y1)``."""

    def detect(self, image: np.ndarray) -> list[Box]: ...


@dataclass(frozen=True)
class PersonCheck:
    """``verified``: at least one person region was compared; ``similarity``: the lowest."""

    match: bool
    verified: bool
    similarity: float
    regions: tuple[Box, ...]


def person_region(face: Box, shape: tuple[int, ...]) -> Box:
    """Head-and-shoulders box around a face box, clipped to an image of ``shape``."""
    x0, y0, x1, y1 = face
    fw, fh = x1 - x0, y1 - y0
    h, w = shape[:2]
    return (
        max(0, round(x0 + REGION_LEFT * fw)),
        max(0, round(y0 + REGION_TOP * fh)),
        min(w, round(x0 + REGION_RIGHT * fw)),
        min(h, round(y0 + REGION_BOTTOM * fh)),
    )


def map_box(box: Box, h: np.ndarray) -> Box:
    """Axis-aligned bounding box of ``box``'s corners under homography ``h``."""
    x0, y0, x1, y1 = box
    corners = np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]).reshape(-1, 1, 2)
    pts = cv2.perspectiveTransform(corners, h).reshape(-1, 2)
    return (
        int(pts[:, 0].min()),
        int(pts[:, 1].min()),
        int(np.ceil(pts[:, 0].max())),
        int(np.ceil(pts[:, 1].max())),
    )


def hs_similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Correlation of hue-saturation histograms of two BGR (float or uint8) regions."""
    hists = []
    for img in (a, b):
        hsv = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], mask.astype(np.uint8), [18, 8], [0, 180, 0, 256])
        hists.append(cv2.normalize(hist, None).flatten())
    return float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL))


def check_person(
    poor: np.ndarray,
    good: np.ndarray,
    h: np.ndarray,
    mapped: np.ndarray,
    low_good: np.ndarray,
    valid: np.ndarray,
    detector: PersonDetector,
    cfg: AlignConfig,
) -> PersonCheck:
    """Compare the person regions of the good image and of the warped, tone-matched poor one.

    ``mapped`` / ``low_good`` / ``valid`` come from :func:`aesformer.align.new_objects.compare`
    (all in the good image's analysis frame); ``h`` maps poor to good analysis pixels.
    """
    faces = list(detector.detect(good)) + [map_box(f, h) for f in detector.detect(poor)]
    regions, sims = [], []
    for face in faces:
        x0, y0, x1, y1 = person_region(face, good.shape)
        if x1 <= x0 or y1 <= y0:
            continue
        region_valid = valid[y0:y1, x0:x1]
        if region_valid.mean() < MIN_REGION_OVERLAP:
            continue
        regions.append((x0, y0, x1, y1))
        sims.append(hs_similarity(mapped[y0:y1, x0:x1], low_good[y0:y1, x0:x1], region_valid))
    if not sims:
        return PersonCheck(True, False, 1.0, ())
    lowest = min(sims)
    return PersonCheck(lowest >= cfg.min_person_similarity, True, lowest, tuple(regions))
