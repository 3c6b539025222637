"""Filters of the good image: transition, technical quality, aesthetics, viewfinder match.

Each filter writes its value to ``scores`` and its verdict to ``checks``; the first failed
check (in the order below) is the reject reason.

| check | reason | passes when |
|---|---|---|
| ``not_transition`` | ``good_mid_transition`` | the frame is still and outside every fade window |
| ``sharp`` | ``good_blurry`` | variance of the Laplacian >= ``min_sharpness`` |
| ``exposed`` | ``good_clipped`` | crushed + blown pixel fraction <= ``max_clipped`` |
| ``clean`` | ``good_noisy`` | noise sigma <= ``max_noise`` |
| ``aesthetic`` | ``good_low_aesthetic`` | aesthetic score >= ``min_aesthetic`` |
| ``matches_viewfinder`` | ``good_mismatch`` | correlation with the last viewfinder preview >= ``min_viewfinder_match`` |
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from aesformer.config import MineConfig
from aesformer.scoring import quality
from aesformer.scoring.aesthetic import AestheticScorer

REASONS = {
    "not_transition": "good_mid_transition",
    "sharp": "good_blurry",
    "exposed": "good_clipped",
    "clean": "good_noisy",
    "aesthetic": "good_low_aesthetic",
    "matches_viewfinder": "good_mismatch",
}


@dataclass
class FilterResult:
    """Scores and checks of one good image; ``reason`` is the first failed check's code."""

    scores: dict[str, float] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def reason(self) -> str | None:
        return next((REASONS[k] for k in REASONS if self.checks.get(k) is False), None)


def correlation(a: np.ndarray, b: np.ndarray, size: int = 48) -> float:
    """Pearson correlation of two images' grayscale ``size x size`` thumbnails (-1..1)."""

    def thumb(x: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(x, cv2.COLOR_BGR2GRAY) if x.ndim == 3 else x
        return cv2.resize(g, (size, size), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()

    ta, tb = thumb(a), thumb(b)
    ta, tb = ta - ta.mean(), tb - tb.mean()
    denom = float(np.sqrt((ta * ta).sum() * (tb * tb).sum()))
    return float((ta * tb).sum() / denom) if denom > 0 else 0.0


def filter_good(
    image: np.ndarray,
    cfg: MineConfig,
    scorer: AestheticScorer,
    frame_diff: float,
    in_transition: bool,
    viewfinder_preview: np.ndarray | None,
) -> FilterResult:
    """Run every filter on the good ``image`` (the photo, bars cropped)."""
    res = FilterResult()
    res.scores["frame_diff"] = float(frame_diff)
    res.checks["not_transition"] = frame_diff < cfg.still_diff and not in_transition
    res.scores["sharpness"] = quality.sharpness(image)
    res.checks["sharp"] = res.scores["sharpness"] >= cfg.min_sharpness
    low, high = quality.clipping(image)
    res.scores["clipped_low"], res.scores["clipped_high"] = low, high
    res.checks["exposed"] = low + high <= cfg.max_clipped
    res.scores["noise_sigma"] = quality.noise_sigma(image)
    res.checks["clean"] = res.scores["noise_sigma"] <= cfg.max_noise
    res.scores.update(scorer(image))
    res.checks["aesthetic"] = res.scores["aesthetic"] >= cfg.min_aesthetic
    if viewfinder_preview is not None:
        res.scores["viewfinder_match"] = correlation(image, viewfinder_preview)
        res.checks["matches_viewfinder"] = (
            res.scores["viewfinder_match"] >= cfg.min_viewfinder_match
        )
    return res
