"""Same-person check: face detection backend, region mapping, appearance comparison."""

from __future__ import annotations

import cv2
import numpy as np

from aesformer.align.person import (
    check_person,
    hs_similarity,
    map_box,
    person_region,
)
from aesformer.config import AlignConfig
from aesformer.corpus import make_event
from aesformer.faces import FaceCascadeDetector

CFG = AlignConfig()


class FixedFaces:
    """Detector stub: the same face boxes for every image."""

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image):
        return list(self.boxes)


def test_cascade_finds_the_astronaut_face_not_a_drawn_figure():
    detector = FaceCascadeDetector(CFG.face_min_size)
    astronaut = make_event(seed=3, size=(640, 360)).photos.poor  # photo cut-out subject
    faces = detector.detect(astronaut)
    assert len(faces) >= 1
    x0, y0, x1, y1 = faces[0]
    assert 30 <= x1 - x0 <= 120 and y0 < astronaut.shape[0] / 2
    figure = make_event(seed=0, size=(640, 360)).photos.good
    assert detector.detect(figure) == []


def test_person_region_and_clipping():
    assert person_region((100, 50, 120, 70), (400, 400)) == (80, 44, 140, 100)
    assert person_region((0, 0, 20, 20), (30, 30)) == (0, 0, 30, 30)


def test_map_box_under_translation():
    h = np.array([[1, 0, 10], [0, 1, -5], [0, 0, 1]], float)
    assert map_box((0, 10, 20, 30), h) == (10, 5, 30, 25)


def test_hs_similarity_same_vs_different_colours():
    a = np.zeros((40, 40, 3), np.uint8)
    a[:, :20] = (200, 50, 50)
    a[:, 20:] = (50, 50, 200)
    b = np.full((40, 40, 3), (50, 200, 50), np.uint8)
    mask = np.ones((40, 40), bool)
    assert hs_similarity(a, a, mask) > 0.99
    assert hs_similarity(a, b, mask) < 0.2


def _run(good, detector):
    poor = make_event(seed=3, size=(640, 360)).photos.poor
    h = np.eye(3)
    valid = np.ones(good.shape[:2], bool)
    return check_person(
        poor, good, h, poor.astype(np.float32), good.astype(np.float32), valid, detector, CFG
    )


def test_check_person_same_region_matches_and_repainted_region_does_not():
    poor = make_event(seed=3, size=(640, 360)).photos.poor
    face = (60, 80, 120, 140)
    same = _run(poor.copy(), FixedFaces([face]))
    assert same.match and same.verified and same.similarity > 0.99
    other = poor.copy()
    cv2.rectangle(other, (0, 50), (250, 300), (40, 160, 40), -1)  # someone else in green
    changed = _run(other, FixedFaces([face]))
    assert changed.verified and not changed.match


def test_no_face_is_unverified_and_passes():
    poor = make_event(seed=3, size=(640, 360)).photos.poor
    result = _run(poor, FixedFaces([]))
    assert result.match and not result.verified and result.regions == ()
