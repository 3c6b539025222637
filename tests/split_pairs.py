"""Synthetic annotated pair folders (what ``annotate`` writes) for the split and gate tests.

Each video shows a different real photo (scikit-image); its pairs are two crops of that photo,
so pairs of one video look alike and pairs of different videos do not. Plans are rendered
with :func:`aesformer.plans.render`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from aesformer.fileio import write_png
from aesformer.plans import NO_CHANGE, Plan, render
from aesformer.records import Alignment, PairRecord, RejectRecord, pair_id, write_jsonl

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")


def photo(name: str) -> np.ndarray:
    """A scikit-image photo as BGR ``uint8``."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)


def plan(k: int) -> Plan:
    """A valid plan; ``k`` varies which dimensions change."""
    return Plan(
        aspect_ratio="Use a vertical 3:4 portrait ratio" if k % 2 else NO_CHANGE,
        composition="Frame tighter on the upper body",
        camera="Simulate stepping back, with the camera around chest height"
        if k % 3
        else NO_CHANGE,
        position="Shift the subject toward the left third",
        pose=NO_CHANGE,
        focus="Keep the subject focused, with only mild background softening",
        color=NO_CHANGE,
    )


def make_pair(root: Path, video: int, k: int, size: tuple[int, int] = (128, 96)) -> PairRecord:
    """Write the two crops of pair ``k`` of video ``video`` and return its record."""
    image = photo(PHOTOS[video % len(PHOTOS)])
    h, w = image.shape[:2]
    video_id = f"tut_{video:04d}"
    sha = f"{video:064x}"
    pid = pair_id(sha, 10.0 * k + 5)
    paths = {}
    for role, (x0, y0, scale) in {
        "poor": (0.05 + 0.1 * k, 0.1, 0.7),
        "good": (0.15 + 0.1 * k, 0.05, 0.75),
    }.items():
        crop = image[int(y0 * h) : int((y0 + scale) * h), int(x0 * w) : int((x0 + scale * 0.9) * w)]
        rel = f"images/{video_id}/{pid}_{role}.png"
        write_png(root / rel, cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
        paths[role] = rel
    p = plan(video + k)
    return PairRecord(
        pair_id=pid,
        video_id=video_id,
        video_sha256=sha,
        event_index=k,
        poor_time_s=10.0 * k + 1,
        good_time_s=10.0 * k + 5,
        poor_image=paths["poor"],
        good_image=paths["good"],
        narration="step back and move her to the left third",
        scores={"aesthetic": 0.6},
        checks={"clean": True},
        alignment=Alignment(
            passed=True,
            scene_inlier_ratio=0.8,
            global_similarity=0.9,
            person_match=True,
            new_objects=0,
            homography=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        ),
        plan=p.to_dict(),
        plan_text=render(p),
        teacher="geometric",
        teacher_version="1",
    )


def make_annotated(root: Path, videos: int = 6, pairs_per_video: int = 2) -> list[PairRecord]:
    """An annotate output folder: ``pairs.jsonl``, ``rejects.jsonl`` (one upstream reject),
    images."""
    pairs = [make_pair(root, v, k) for v in range(videos) for k in range(pairs_per_video)]
    write_jsonl(root / "pairs.jsonl", pairs)
    write_jsonl(
        root / "rejects.jsonl",
        [RejectRecord(stage="align", reason="scene_mismatch", video_id="tut_0000")],
    )
    return pairs
