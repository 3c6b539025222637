"""Perceptual hashes (64-bit DCT pHash) and near-duplicates across groups, with numpy + OpenCV.

The hash of an image: grayscale, resized to 32x32 (area), 2-D DCT, the 8x8 lowest frequencies,
one bit per coefficient: above their median. Re-encoding, resizing, small brightness or colour
changes move a few bits; different photos differ in about half of the 64.
"""

from __future__ import annotations

import numpy as np


def phash(image: np.ndarray) -> int:
    """The 64-bit perceptual hash of a BGR or grayscale ``uint8`` image."""
    import cv2  # lazily: the CLI imports the package and must start fast

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low)
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    """Number of differing bits of two 64-bit hashes."""
    return (a ^ b).bit_count()


def near_duplicates_across(
    hashes: list[int | None], groups: list[str | None], max_distance: int, chunk: int = 512
) -> np.ndarray:
    """For each hash, whether some hash of a *different* group is within ``max_distance`` bits.

    ``None`` hashes (undecodable images) and ``None`` groups never match. ``O(n^2)`` bit
    operations, done in chunks of ``chunk`` rows (18k hashes: a few seconds).
    """
    n = len(hashes)
    flags = np.zeros(n, dtype=bool)
    valid = np.array([h is not None and g is not None for h, g in zip(hashes, groups, strict=True)])
    if not valid.any():
        return flags
    index = np.flatnonzero(valid)
    values = np.array([hashes[i] for i in index], dtype=np.uint64)
    labels = np.unique([str(groups[i]) for i in index], return_inverse=True)[1]
    for start in range(0, len(index), chunk):
        block = slice(start, start + chunk)
        distance = np.bitwise_count(values[block, None] ^ values[None, :])
        other = labels[block, None] != labels[None, :]
        flags[index[block]] = ((distance <= max_distance) & other).any(axis=1)
    return flags


__all__ = ["hamming", "near_duplicates_across", "phash"]
