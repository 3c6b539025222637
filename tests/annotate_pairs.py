"""Synthetic (poor, good) pairs with known changes, cut from a real photo (scikit-image's
astronaut), for the annotate tests.

A *shot* views the source photo through a similarity transform (centre, zoom, rotation) into
an output frame of a given size; two shots of the same photo are a pair whose poor -> good
homography is known exactly (no feature matching involved).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from aesformer.records import Alignment, PairRecord, pair_id

#: Where the astronaut photo is pasted on the brick-wall canvas, and her face centre (pixels).
PASTE = (256, 320)
FACE = (PASTE[0] + 224.0, PASTE[1] + 116.0)


def source() -> np.ndarray:
    """A 1024 x 1024 BGR scene: the astronaut photo (512 x 512) in front of a brick wall."""
    from skimage import data

    wall = cv2.cvtColor(data.brick(), cv2.COLOR_GRAY2BGR)
    canvas = np.tile(wall, (3, 3, 1))[:1024, :1024].copy()
    x, y = PASTE
    canvas[y : y + 512, x : x + 512] = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    return canvas


@dataclass(frozen=True)
class Shot:
    """``centre`` (source px) lands at ``at`` (share of the frame); ``zoom`` output px per
    source px; ``rotation_deg`` clockwise turn of the picture; ``size`` (w, h) of the frame.

    The defaults show the astronaut's upper body with the wall around her; every frame used in
    the tests stays inside the canvas (no reflected border)."""

    centre: tuple[float, float] = FACE
    at: tuple[float, float] = (0.5, 0.33)
    zoom: float = 0.6
    rotation_deg: float = 0.0
    size: tuple[int, int] = (240, 320)

    def matrix(self) -> np.ndarray:
        """3x3 source px -> frame px."""
        t = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
        to_origin = np.array([[1, 0, -self.centre[0]], [0, 1, -self.centre[1]], [0, 0, 1]])
        scale = np.diag([self.zoom, self.zoom, 1.0])
        to_frame = np.array(
            [[1, 0, self.at[0] * self.size[0]], [0, 1, self.at[1] * self.size[1]], [0, 0, 1]]
        )
        return to_frame @ rot @ scale @ to_origin

    def render(self, photo: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        m = self.matrix() if extra is None else self.matrix() @ extra
        return cv2.warpPerspective(
            photo, m, self.size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT
        )


def normalised_homography(
    poor: Shot, good: Shot, extra: np.ndarray | None = None
) -> list[list[float]]:
    """poor -> good in normalised [0, 1] coordinates (``extra``: a source-plane warp of good)."""
    mg = good.matrix() if extra is None else good.matrix() @ extra
    h_px = mg @ np.linalg.inv(poor.matrix())
    n = (
        np.diag([1 / good.size[0], 1 / good.size[1], 1])
        @ h_px
        @ np.diag([poor.size[0], poor.size[1], 1])
    )
    n = n / n[2, 2]
    return [[float(v) for v in row] for row in n]


def keystone_warp(strength: float, side: str) -> np.ndarray:
    """A source-plane homography that enlarges one side (``right`` or ``bottom``) of the photo
    about the face, as a camera moved toward that side would."""
    g = strength / 1024
    p = np.array(
        [[1, 0, 0], [0, 1, 0], [-g if side == "right" else 0, -g if side == "bottom" else 0, 1]]
    )
    c = np.array([[1, 0, -FACE[0]], [0, 1, -FACE[1]], [0, 0, 1]])
    return np.linalg.inv(c) @ p @ c


def record(index: int, poor: str, good: str, homography, narration: str = "") -> PairRecord:
    """An aligned PairRecord of images at ``poor`` / ``good`` with the given homography."""
    sha = f"{index:064x}"
    alignment = None
    if homography is not None:
        alignment = Alignment(
            passed=True,
            scene_inlier_ratio=0.9,
            global_similarity=0.9,
            person_match=True,
            new_objects=0,
            homography=homography,
        )
    return PairRecord(
        pair_id=pair_id(sha, 10.0 + index),
        video_id=f"tut_{index:04d}",
        video_sha256=sha,
        event_index=0,
        poor_time_s=1.0,
        good_time_s=10.0 + index,
        poor_image=poor,
        good_image=good,
        narration=narration,
        alignment=alignment,
    )
