"""The poor shot: the earliest stable framing of the viewfinder run (before any correction)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aesformer.mining.decode import DecodedVideo
from aesformer.mining.segments import EventSpan, Span, still_runs


@dataclass(frozen=True)
class PoorFrame:
    """The selected poor frame and the still run it lies in."""

    index: int
    hold: Span


def select_poor(
    video: DecodedVideo, event: EventSpan, still_diff: float, min_hold_s: float
) -> PoorFrame | None:
    """The first still run (``min_hold_s`` long) of the viewfinder run, once it has rested.

    Tutorials show the poor framing first and then correct it; the first moment the camera
    rests is that framing. Frames in motion (hand-shake, easing towards the next framing) and
    the frames of an entering fade are never still, so they are never chosen. Returns ``None``
    when the run never rests that long.
    """
    fps = video.info.fps
    min_len = max(2, int(np.ceil(min_hold_s * fps - 1e-6)))
    span = event.viewfinder
    # the run's first frame follows a cut: its difference is the cut, not motion
    diff = video.diff[span.start : span.end].copy()
    if diff.size:
        diff[0] = 0.0
    runs = still_runs(diff, still_diff, min_len)
    if not runs:
        return None
    first = runs[0]
    hold = Span(span.start + first.start, span.start + first.end)
    # once the framing has rested ``min_hold_s`` (or the run's middle, if shorter): a slow
    # correction (a roll or pan easing under ``still_diff``) extends the run, and its middle
    # would already be the corrected framing
    index = min((hold.start + hold.end - 1) // 2, hold.start + min_len)
    return PoorFrame(index=index, hold=hold)
