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


#: Columns of a contact sheet: the camera frame as mined, after overlay removal, the good photo.
COLUMNS = ("poor_raw_image", "poor_image", "good_image")


def pair_grid(
    pairs_dir: Path, limit: int = 8, cell: int = 256, columns: tuple[str, ...] = COLUMNS
) -> np.ndarray | None:
    """BGR image with one row per pair, one cell per ``columns`` field (a missing optional
    image, e.g. no ``poor_raw_image`` after align, is left out of every row); None when there
    is no readable pair."""
    records = list(islice(read_jsonl(pairs_dir / "pairs.jsonl", PairRecord), limit))
    used = [c for c in columns if records and all(getattr(r, c, None) for r in records)]
    rows = []
    for rec in records:
        images = [cv2.imread(str(pairs_dir / getattr(rec, c))) for c in used]
        if not images or any(img is None for img in images):
            continue
        rows.append(np.hstack([fit(img, cell) for img in images]))
    return np.vstack(rows) if rows else None
