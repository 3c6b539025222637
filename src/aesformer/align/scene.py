"""Same-scene check: SIFT matching + RANSAC homography, then a low-frequency similarity.

The poor and the good photo of one event are two views of the same (nearly planar) scene:
zoom, crop, aspect ratio, roll, yaw/pitch perspective and subject position are all one
homography of the image plane. Features are matched on a blurred, contrast-equalised
grayscale so that background blur and exposure changes do not decide the match; the
homography's inlier ratio and the normalised cross-correlation of the warped poor image with
the good one (heavily low-passed, over their overlap) decide whether it is the same scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aesformer.align.images import gray
from aesformer.config import AlignConfig

#: Fewer ratio-test matches than this and no homography is estimated.
MIN_MATCHES = 8


@dataclass(frozen=True)
class SceneMatch:
    """Result of :func:`match_scene` (homography in analysis pixels, poor -> good)."""

    homography: np.ndarray | None
    matches: int
    inliers: int
    similarity: float
    overlap: float

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / self.matches if self.matches else 0.0


def _features_image(image: np.ndarray, blur_px: float) -> np.ndarray:
    g = gray(image)
    if blur_px > 0:
        g = cv2.GaussianBlur(g, (0, 0), blur_px)
    return cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(g)


def estimate_homography(
    poor: np.ndarray, good: np.ndarray, cfg: AlignConfig
) -> tuple[np.ndarray | None, int, int]:
    """SIFT + Lowe ratio test + MAGSAC homography; returns ``(H, matches, inliers)``."""
    sift = cv2.SIFT_create(nfeatures=cfg.max_features)
    kp1, d1 = sift.detectAndCompute(_features_image(poor, cfg.feature_blur_px), None)
    kp2, d2 = sift.detectAndCompute(_features_image(good, cfg.feature_blur_px), None)
    if d1 is None or d2 is None or len(kp1) < 2 or len(kp2) < 2:
        return None, 0, 0
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1, d2, k=2)
    kept = [m[0] for m in pairs if len(m) == 2 and m[0].distance < cfg.ratio_test * m[1].distance]
    if len(kept) < MIN_MATCHES:
        return None, len(kept), 0
    src = np.float32([kp1[m.queryIdx].pt for m in kept])
    dst = np.float32([kp2[m.trainIdx].pt for m in kept])
    h, mask = cv2.findHomography(
        src, dst, cv2.USAC_MAGSAC, cfg.ransac_threshold_px, maxIters=5000, confidence=0.999
    )
    if h is None or mask is None or not np.isfinite(h).all():
        return None, len(kept), 0
    return h, len(kept), int(mask.sum())


def overlap_mask(poor_shape: tuple[int, ...], h: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixels of the good frame (``size`` = (w, h)) that the warped poor image covers, eroded
    by 3 px so that interpolated borders do not count."""
    ones = np.full(poor_shape[:2], 255, np.uint8)
    mask = cv2.warpPerspective(ones, h, size, flags=cv2.INTER_NEAREST)
    return cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0


def structure_similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray, blur_px: float) -> float:
    """Normalised cross-correlation of the low-passed grayscale images over ``mask``."""
    fa = cv2.GaussianBlur(gray(a).astype(np.float32), (0, 0), blur_px)[mask]
    fb = cv2.GaussianBlur(gray(b).astype(np.float32), (0, 0), blur_px)[mask]
    fa -= fa.mean()
    fb -= fb.mean()
    denom = float(np.sqrt((fa * fa).sum() * (fb * fb).sum()))
    return float((fa * fb).sum() / denom) if denom > 0 else 0.0


def refine_homography(
    poor: np.ndarray, good: np.ndarray, h: np.ndarray, blur_px: float
) -> np.ndarray:
    """Dense ECC refinement of ``h`` on low-passed grayscale (gain/offset invariant).

    Returns ``h`` unchanged when ECC does not converge.
    """
    warp = (h / h[2, 2]).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        _, refined = cv2.findTransformECC(
            cv2.GaussianBlur(gray(good), (0, 0), blur_px).astype(np.float32),
            cv2.GaussianBlur(gray(poor), (0, 0), blur_px).astype(np.float32),
            np.linalg.inv(warp).astype(np.float32),
            cv2.MOTION_HOMOGRAPHY,
            criteria,
            None,
            1,
        )
    except cv2.error:
        return h
    out = np.linalg.inv(refined.astype(np.float64))
    return out / out[2, 2] if np.isfinite(out).all() else h


def match_scene(poor: np.ndarray, good: np.ndarray, cfg: AlignConfig) -> SceneMatch:
    """Estimate the poor->good homography and how well it explains the good image."""
    h, matches, inliers = estimate_homography(poor, good, cfg)
    if h is None:
        return SceneMatch(None, matches, inliers, 0.0, 0.0)
    if cfg.refine:
        h = refine_homography(poor, good, h, cfg.feature_blur_px)
    size = (good.shape[1], good.shape[0])
    mask = overlap_mask(poor.shape, h, size)
    overlap = float(mask.mean())
    if mask.sum() < 64:
        return SceneMatch(h, matches, inliers, 0.0, overlap)
    warped = cv2.warpPerspective(poor, h, size, flags=cv2.INTER_LINEAR)
    similarity = structure_similarity(warped, good, mask, cfg.similarity_blur_px)
    return SceneMatch(h, matches, inliers, similarity, overlap)


def normalised_homography(
    h: np.ndarray, poor_size: tuple[int, int], good_size: tuple[int, int]
) -> list[list[float]]:
    """Express a pixel homography in normalised [0, 1] coordinates of each image.

    ``poor_size`` / ``good_size`` are the (width, height) of the images ``h`` was computed on.
    The result maps normalised poor coordinates to normalised good coordinates and is scaled
    so that its bottom-right entry is 1.
    """
    to_px = np.diag([poor_size[0], poor_size[1], 1.0])
    to_norm = np.diag([1.0 / good_size[0], 1.0 / good_size[1], 1.0])
    n = to_norm @ h @ to_px
    n = n / n[2, 2]
    return [[float(v) for v in row] for row in n]
