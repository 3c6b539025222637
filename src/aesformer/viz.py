"""Contact sheets for people: sample (poor | good) pairs of a pairs folder, as one image."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import cv2
import numpy as np

from aesformer.records import PairRecord, read_jsonl


def fit(image: np.ndarray, size: int) -> np.ndarray:
    """Letterbox ``image`` into a ``size``×``size`` black square, keeping its aspect ratio."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    resized = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    canvas = np.zeros((size, size, 3), np.uint8)
    y, x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


def pair_grid(pairs_dir: Path, limit: int = 8, cell: int = 256) -> np.ndarray | None:
    """BGR image with one row per pair: poor | good; None when there is no readable pair."""
    rows = []
    for rec in islice(read_jsonl(pairs_dir / "pairs.jsonl", PairRecord), limit):
        images = [cv2.imread(str(pairs_dir / rel)) for rel in (rec.poor_image, rec.good_image)]
        if any(img is None for img in images):
            continue
        rows.append(np.hstack([fit(img, cell) for img in images]))
    return np.vstack(rows) if rows else None
