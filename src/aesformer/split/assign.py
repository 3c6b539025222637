"""Which split each video goes to: pure functions, no file access.

Videos are ranked by ``sha256("<seed>:<video_id>")`` and the ranking is cut at exact counts
(:func:`split_counts`): the first ``n_train`` videos go to train, the next ``n_val`` to val,
the rest to test. Hence:

- the same ids and seed give the same assignment, whatever the input order;
- the split sizes (in videos) are exact, and with at least three videos every split gets one;
- adding a video moves only the videos whose rank crosses a cut, not a full reshuffle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from aesformer.config import SplitRatios

#: The splits, in cut order.
SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_counts(n_videos: int, ratios: SplitRatios) -> dict[str, int]:
    """Videos per split: largest-remainder rounding of ``n_videos * ratio``, then, when there
    are at least as many videos as splits, every empty split takes one video from the largest.
    """
    shares = {name: getattr(ratios, name) for name in SPLITS}
    exact = {name: n_videos * share for name, share in shares.items()}
    counts = {name: int(value) for name, value in exact.items()}
    left = n_videos - sum(counts.values())
    # ties broken by split order, so the result does not depend on float noise in the ratios
    by_remainder = sorted(SPLITS, key=lambda n: (-(exact[n] - counts[n]), SPLITS.index(n)))
    for name in by_remainder[:left]:
        counts[name] += 1
    if n_videos >= len(SPLITS):
        for name in SPLITS:
            if counts[name] == 0:
                donor = max(SPLITS, key=lambda n: (counts[n], -SPLITS.index(n)))
                counts[donor] -= 1
                counts[name] += 1
    return counts


def rank_key(video_id: str, seed: int) -> str:
    """The sort key of a video: hex sha256 of ``"<seed>:<video_id>"``."""
    return hashlib.sha256(f"{seed}:{video_id}".encode()).hexdigest()


def assign_videos(video_ids: Iterable[str], seed: int, ratios: SplitRatios) -> dict[str, str]:
    """``{video_id: split}`` for the distinct ``video_ids`` (see the module docstring)."""
    ranked = sorted(set(video_ids), key=lambda v: (rank_key(v, seed), v))
    counts = split_counts(len(ranked), ratios)
    out: dict[str, str] = {}
    start = 0
    for name in SPLITS:
        for video_id in ranked[start : start + counts[name]]:
            out[video_id] = name
        start += counts[name]
    return out


__all__ = ["SPLITS", "assign_videos", "rank_key", "split_counts"]
