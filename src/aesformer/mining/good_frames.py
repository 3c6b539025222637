"""The finished photo: the best frame of the still, UI-free hold right after the shutter cut."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from aesformer.mining.decode import DecodedVideo
from aesformer.mining.segments import EventSpan, Span, still_runs

SMOOTH_HALF_WIDTH = 2  # half the window of segments.smooth


@dataclass(frozen=True)
class GoodFrame:
    """The selected good frame of an event and the still hold it was chosen from."""

    index: int
    hold: Span
    sharpness: float


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grayscale image: the classic focus measure."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def select_good(
    video: DecodedVideo,
    event: EventSpan,
    ui_samples: dict[int, bool],
    still_diff: float,
    min_hold_s: float,
) -> GoodFrame | None:
    """Best frame of the first still hold of ``event.good`` lasting ``min_hold_s``, or ``None``.

    The hold must contain no sample showing a camera UI. Candidates are the decision samples in
    the hold away from its ends (a tenth of the hold on each side: never next to a cut or a
    transition); the sharpest wins, the one nearest the middle on ties.
    """
    fps = video.info.fps
    # the running median (5 frames) blurs each end of a hold by up to 2 frames: credit them
    min_len = max(2, int(np.ceil(min_hold_s * fps - 1e-6)) - SMOOTH_HALF_WIDTH)
    span = event.good
    for run in still_runs(video.diff[span.start : span.end], still_diff, min_len):
        hold = Span(span.start + run.start, span.start + run.end)
        samples = [i for i in sorted(video.samples) if i in hold]
        if any(ui_samples.get(i, False) for i in samples):
            continue
        margin = max(1, len(hold) // 10)
        inner = [i for i in samples if hold.start + margin <= i < hold.end - margin]
        if not inner:
            continue
        mid = (hold.start + hold.end - 1) / 2
        scored = [(laplacian_variance(video.samples[i]), -abs(i - mid), i) for i in inner]
        sharp, _, index = max(scored)
        return GoodFrame(index=index, hold=hold, sharpness=sharp)
    return None
