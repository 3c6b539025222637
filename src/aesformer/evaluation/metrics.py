"""Image metrics of the eval stage; each one documented, bounded and deterministic.

Images are BGR ``uint8`` arrays (OpenCV's layout), as everywhere in the project.

| metric | function | range | definition |
|---|---|---|---|
| aesthetics (no reference) | :func:`aesthetic_scores` | 0..1 | ``scoring.aesthetic`` scorer (default ``photographic``: thirds placement 0.3, headroom 0.2, level horizon 0.2, exposure 0.15, sharpness 0.15; LAION / Q-Align / ArtiMuse when their weights are configured, on their own scales) |
| horizon level | in :func:`aesthetic_scores` (``aesthetic_level``) | 0..1 | 1 − \\|tilt\\| / 8°, clipped (``scoring.composition``) |
| identity preservation | :func:`identity_similarity` | 0..1 | the largest face of each image (LBP cascade, ``aesformer.faces``), cropped, 128 px, uniform LBP (P=8, R=1) histograms on a 4x4 grid: 1 − ½·Σ\\|h₁ − h₂\\| (histogram intersection); ``None`` when either image has no face |
| scene consistency | :func:`scene_consistency` | 0..1 | ``inliers``: ORB matches (ratio test 0.75) consistent with one RANSAC homography / ORB keypoints of the reference; ``global``: HSV colour-histogram correlation, clipped at 0 |
| similarity to the target | :func:`similarity` | SSIM −1..1, PSNR dB | SSIM (scikit-image, grayscale, after resizing the output to the target's size) and PSNR (colour) |
| edit distance | :func:`edit_distance` | 0..1 | mean absolute pixel difference / 255 (output vs input, resized): 0 means the photo was not changed |
| learned perceptual distance | ``perceptual.LPIPS.distance`` | ≥ 0, lower is better | LPIPS v0.1 (AlexNet) vs the target, output resized; only when ``eval.lpips_weights`` is set |
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from aesformer.faces import Box, FaceCascadeDetector

FACE_SIDE = 128  # face crops are compared at this size
LBP_GRID = 4  # LBP histograms on a LBP_GRID x LBP_GRID grid of the face crop
ORB_FEATURES = 1500
RATIO_TEST = 0.75
ANALYSIS_SIDE = 512  # long side for the feature-based metrics


def _to_size(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    height, width = shape[:2]
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _analysis(image: np.ndarray, side: int = ANALYSIS_SIDE) -> np.ndarray:
    scale = side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


# ------------------------------------------------------------------ aesthetics (no reference)
def aesthetic_scores(image: np.ndarray, scorer: Any | None = None) -> dict[str, float]:
    """The no-reference scores of ``image``: ``aesthetic`` and its named parts."""
    if scorer is None:
        from aesformer.scoring.aesthetic import PhotographicScorer

        scorer = PhotographicScorer()
    return {k: float(v) for k, v in scorer(image).items()}


# ------------------------------------------------------------------ identity
def largest_face(image: np.ndarray, detector: FaceCascadeDetector) -> Box | None:
    faces = detector.detect(image)
    if not faces:
        return None
    return max(faces, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))


def lbp_descriptor(face: np.ndarray) -> np.ndarray:
    """Concatenated, normalised uniform-LBP histograms of a face crop on a 4x4 grid."""
    from skimage.feature import local_binary_pattern

    crop = cv2.resize(_gray(face), (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    codes = local_binary_pattern(crop, P=8, R=1, method="uniform")  # values 0..9
    cell = FACE_SIDE // LBP_GRID
    hists = []
    for row in range(LBP_GRID):
        for col in range(LBP_GRID):
            block = codes[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell]
            hist, _ = np.histogram(block, bins=10, range=(0, 10))
            hists.append(hist)
    out = np.concatenate(hists).astype(np.float64)
    return out / out.sum()


def identity_similarity(
    reference: np.ndarray, output: np.ndarray, detector: FaceCascadeDetector | None = None
) -> float | None:
    """Face similarity of the subject in ``reference`` (the poor photo) and ``output``; 1.0 for
    the same face crop, ``None`` when either image shows no face (the metric is then undefined
    and counted as missing, not as 0)."""
    detector = detector or FaceCascadeDetector()
    boxes = [largest_face(img, detector) for img in (reference, output)]
    if boxes[0] is None or boxes[1] is None:
        return None
    descriptors = [
        lbp_descriptor(img[b[1] : b[3], b[0] : b[2]])
        for img, b in zip((reference, output), boxes, strict=True)
    ]
    return float(1.0 - 0.5 * np.abs(descriptors[0] - descriptors[1]).sum())


# ------------------------------------------------------------------ scene
def scene_consistency(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """``inliers``: share of the reference's ORB keypoints matched into ``output`` consistently
    with one homography (RANSAC, 5 px at the analysis size); ``global``: HSV histogram
    correlation (clipped to 0..1)."""
    a, b = _analysis(reference), _analysis(output)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES)
    kp_a, des_a = orb.detectAndCompute(_gray(a), None)
    kp_b, des_b = orb.detectAndCompute(_gray(b), None)
    inliers = 0.0
    if des_a is not None and des_b is not None and len(kp_a) >= 4 and len(kp_b) >= 4:
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des_a, des_b, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
        if len(good) >= 4:
            src = np.float32([kp_a[m.queryIdx].pt for m in good])
            dst = np.float32([kp_b[m.trainIdx].pt for m in good])
            _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
            if mask is not None:
                inliers = float(mask.sum()) / len(kp_a)
    hists = []
    for img in (a, b):
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [30, 32], [0, 180, 0, 256])
        hists.append(cv2.normalize(hist, hist).flatten())
    correlation = float(cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL))
    return {"inliers": min(1.0, inliers), "global": max(0.0, correlation)}


# ------------------------------------------------------------------ full reference
def similarity(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """SSIM (grayscale) and PSNR (dB, colour) of ``output`` against ``target`` (the ground-truth
    good photo), after resizing ``output`` to the target's size. PSNR of identical images is
    capped at 100 dB."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    resized = _to_size(output, target.shape)
    ssim = structural_similarity(_gray(resized), _gray(target), data_range=255)
    if np.array_equal(resized, target):
        psnr = 100.0
    else:
        psnr = min(100.0, peak_signal_noise_ratio(target, resized, data_range=255))
    return {"ssim": float(ssim), "psnr": float(psnr)}


def edit_distance(reference: np.ndarray, output: np.ndarray) -> float:
    """Mean absolute difference / 255 between ``output`` and ``reference`` (resized to it)."""
    resized = _to_size(output, reference.shape)
    diff = np.abs(resized.astype(np.int16) - reference.astype(np.int16))
    return float(diff.mean() / 255.0)
