"""One pair: run the scene, person and new-object checks and build the ``Alignment`` record."""

from __future__ import annotations

from enum import StrEnum

import cv2
import numpy as np

from aesformer.align.images import to_analysis
from aesformer.align.new_objects import compare, find_new_objects
from aesformer.align.person import PersonCheck, PersonDetector, check_person
from aesformer.align.scene import SceneMatch, match_scene, normalised_homography, overlap_mask
from aesformer.config import AlignConfig
from aesformer.records import Alignment


class Reason(StrEnum):
    """Reason codes of pairs rejected by ``align`` (``RejectRecord.reason``)."""

    SCENE_MISMATCH = "scene_mismatch"
    PERSON_MISMATCH = "person_mismatch"
    NEW_OBJECT = "new_object"
    IMAGE_UNREADABLE = "image_unreadable"
    BAD_RECORD = "bad_record"  # a pairs.jsonl line that is not UTF-8 JSON / a PairRecord


def scene_passes(scene: SceneMatch, cfg: AlignConfig) -> bool:
    """All scene thresholds hold (a homography exists, enough inliers, overlap, similarity)."""
    return (
        scene.homography is not None
        and scene.inliers >= cfg.min_inliers
        and scene.inlier_ratio >= cfg.min_scene_inlier_ratio
        and scene.overlap >= cfg.min_overlap
        and scene.similarity >= cfg.min_global_similarity
    )


def align_pair(
    poor: np.ndarray,
    good: np.ndarray,
    cfg: AlignConfig,
    detector: PersonDetector,
    poor_unobserved: np.ndarray | None = None,
) -> Alignment:
    """Check a (poor, good) pair of BGR images; ``passed`` is true when no check failed.

    The person and new-object checks run only when the scene check found a homography that
    passes (without one there is nothing to compare region by region). ``poor_unobserved``
    (uint8/bool, any size, non-zero = reconstructed by the miner's inpainting) is left out of
    the region comparisons: an inpainted subtitle is not evidence of a new object or another
    person.
    """
    small_poor = to_analysis(poor, cfg.analysis_long_side)
    small_good = to_analysis(good, cfg.analysis_long_side)
    scene = match_scene(small_poor, small_good, cfg)
    scores = {
        "matches": float(scene.matches),
        "inliers": float(scene.inliers),
        "overlap": round(scene.overlap, 4),
    }
    similarity = float(np.clip(scene.similarity, -1.0, 1.0))
    if not scene_passes(scene, cfg):
        return Alignment(
            passed=False,
            scene_inlier_ratio=scene.inlier_ratio,
            global_similarity=similarity,
            person_match=False,
            new_objects=0,
            homography=_homography(scene, small_poor, small_good),
            reasons=[Reason.SCENE_MISMATCH.value],
            scores=scores,
        )
    h = scene.homography
    assert h is not None  # scene_passes guarantees it
    size = (small_good.shape[1], small_good.shape[0])
    warped = cv2.warpPerspective(small_poor, h, size, flags=cv2.INTER_LINEAR)
    observed = overlap_mask(small_poor.shape, h, size)
    if poor_unobserved is not None:
        hole = cv2.resize(
            (poor_unobserved > 0).astype(np.uint8),
            (small_poor.shape[1], small_poor.shape[0]),
            interpolation=cv2.INTER_NEAREST,
        )
        hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))  # inpainting bleeds a little
        observed &= cv2.warpPerspective(hole, h, size, flags=cv2.INTER_NEAREST) == 0
    cmp = compare(warped, small_good, observed, cfg.residual_blur_px)
    blobs = find_new_objects(cmp.residual, cfg)
    person: PersonCheck = check_person(
        small_poor, small_good, h, cmp.mapped, cmp.good, cmp.valid, detector, cfg
    )
    reasons = []
    if not person.match:
        reasons.append(Reason.PERSON_MISMATCH.value)
    if blobs:
        reasons.append(Reason.NEW_OBJECT.value)
    scores |= {
        "person_verified": float(person.verified),
        "person_similarity": round(person.similarity, 4),
        "new_object_area": round(sum(b.area for b in blobs) / (size[0] * size[1]), 4),
    }
    return Alignment(
        passed=not reasons,
        scene_inlier_ratio=scene.inlier_ratio,
        global_similarity=similarity,
        person_match=person.match,
        new_objects=len(blobs),
        homography=_homography(scene, small_poor, small_good),
        reasons=reasons,
        scores=scores,
    )


def _homography(scene: SceneMatch, poor: np.ndarray, good: np.ndarray) -> list[list[float]] | None:
    if scene.homography is None:
        return None
    return normalised_homography(
        scene.homography, (poor.shape[1], poor.shape[0]), (good.shape[1], good.shape[0])
    )
