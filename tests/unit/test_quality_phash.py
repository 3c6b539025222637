"""Perceptual hash and cross-split near-duplicate flags."""

from __future__ import annotations

import cv2
import numpy as np

from aesformer.quality.phash import hamming, near_duplicates_across, phash
from tests.split_pairs import photo


def test_robust_to_resize_and_regrade_but_not_to_another_photo() -> None:
    a = photo("astronaut")
    regraded = np.clip(a.astype(np.int16) + 8, 0, 255).astype(np.uint8)
    resized = cv2.resize(regraded, (300, 310), interpolation=cv2.INTER_AREA)
    assert hamming(phash(a), phash(a)) == 0
    assert hamming(phash(a), phash(resized)) <= 4
    assert hamming(phash(a), phash(photo("coffee"))) > 16
    assert 0 <= phash(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)) < 2**64


def test_near_duplicates_only_across_groups() -> None:
    hashes = [0b1111, 0b1110, 0xFFFF_0000_0000_0000, None, 0b1111]
    groups = ["train", "train", "test", "test", None]
    assert not near_duplicates_across(hashes, groups, 2).any()  # same group / None never match
    groups[1] = "val"
    assert near_duplicates_across(hashes, groups, 2).tolist() == [True, True, False, False, False]
    assert not near_duplicates_across(hashes, groups, 0).any()
    assert near_duplicates_across([], [], 3).shape == (0,)
