"""Shots and shooting events: PySceneDetect cuts, fade windows, viewfinder runs.

A tutorial is cut into *shots* at hard cuts (PySceneDetect's ContentDetector and
HistogramDetector, optionally AdaptiveDetector, on the analysis frames, fed during the decoding pass) and at *transition
windows* (fades and dissolves: runs of frames that change steadily and are each a
non-negative blend of the frames just before and just after the window, which also covers
fades through black). Each decision sample is classified as viewfinder or not by the camera UI
found in it (:mod:`aesformer.mining.ui`).

A *shooting event* is a run of viewfinder samples (several shots may form one run: switching
the format or the portrait mode cuts the image) immediately followed, at a hard cut, by a
non-UI shot: the finished photo. The run's start, end and the cut are frame-exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, HistogramDetector

from aesformer.mining.decode import DecodedVideo, analysis_size, downscale


class CutDetector:
    """PySceneDetect detectors fed one analysis frame at a time (a decode callback).

    ``kinds`` picks the detectors: ``content`` (HSV/edge frame difference against
    ``content_threshold``), ``histogram`` (YUV histogram correlation against
    ``histogram_threshold``) and ``adaptive`` (the content score against a rolling average of
    its neighbours, ``adaptive_threshold``: robust to fast camera motion, but it decides a
    frame only after ``window_width`` more frames have been seen, so call :meth:`finish` at
    the end). A frame is a cut when any detector says so.
    """

    def __init__(
        self,
        fps: float,
        content_threshold: float,
        histogram_threshold: float,
        kinds: tuple[str, ...] = ("content", "histogram"),
        adaptive_threshold: float = 3.0,
        width: int | None = None,
    ) -> None:
        self.fps = float(fps)
        self.width = width  # frames wider than this are downscaled first (None: as given)
        factories = {
            "content": lambda: ContentDetector(threshold=content_threshold, min_scene_len=2),
            "histogram": lambda: HistogramDetector(threshold=histogram_threshold, min_scene_len=2),
            "adaptive": lambda: AdaptiveDetector(
                adaptive_threshold=adaptive_threshold, min_scene_len=2
            ),
        }
        unknown = sorted(set(kinds) - set(factories))
        if unknown:
            raise ValueError(f"unknown cut detector(s) {unknown}; known: {sorted(factories)}")
        self.detectors = [factories[k]() for k in kinds]
        self.cuts: set[int] = set()
        self.last = -1

    def __call__(self, index: int, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self.width is not None and w > self.width:
            frame = downscale(frame, analysis_size(w, h, self.width))
        tc = FrameTimecode(index, self.fps)
        self.last = index
        for det in self.detectors:
            for cut in det.process_frame(tc, frame):
                self.cuts.add(int(cut.frame_num))

    def finish(self) -> set[int]:
        """Flush detectors that decide late (adaptive); returns all cuts."""
        if self.last >= 0:
            tc = FrameTimecode(self.last, self.fps)
            for det in self.detectors:
                for cut in det.post_process(tc) or []:
                    self.cuts.add(int(cut.frame_num))
        return self.cuts


@dataclass(frozen=True)
class Span:
    """Half-open frame interval ``[start, end)``."""

    start: int
    end: int

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __contains__(self, i: object) -> bool:
        return isinstance(i, int | np.integer) and self.start <= i < self.end


@dataclass(frozen=True)
class EventSpan:
    """A shooting event: its viewfinder run and the finished-photo shot after the cut."""

    index: int
    viewfinder: Span
    good: Span  # from the cut to the next cut / transition / end of video


def smooth(diff: np.ndarray, width: int = 5) -> np.ndarray:
    """Running median of the frame differences: codec key-frame blips do not count as motion."""
    if diff.size == 0:
        return diff
    pad = width // 2
    padded = np.pad(diff, pad, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, width)
    return np.median(windows, axis=1).astype(np.float32)


def still_runs(diff: np.ndarray, still_diff: float, min_len: int) -> list[Span]:
    """Maximal runs of frames whose smoothed difference stays under ``still_diff``."""
    still = smooth(diff) < still_diff
    runs: list[Span] = []
    start = None
    for i, s in enumerate(still.tolist() + [False]):
        if s and start is None:
            start = i
        elif not s and start is not None:
            if i - start >= min_len:
                runs.append(Span(start, i))
            start = None
    return runs


def transition_windows(
    video: DecodedVideo, fade_diff: float, max_residual: float, min_len: int = 3
) -> list[Span]:
    """Fades/dissolves: steady-change runs whose frames are blends of the frames around them."""
    moving = smooth(video.diff, 3) > fade_diff
    windows: list[Span] = []
    n = len(moving)
    i = 0
    while i < n:
        if not moving[i]:
            i += 1
            continue
        j = i
        while j < n and moving[j]:
            j += 1
        # window frames are [i-1 .. j-1]: diff[i] is the change from frame i-1 to i
        span = Span(max(0, i - 1), j)
        if len(span) >= min_len and _is_blend(video.thumbs, span, max_residual):
            windows.append(span)
        i = j
    return windows


def _is_blend(thumbs: np.ndarray, span: Span, max_residual: float) -> bool:
    """Each inner frame ≈ a·A + b·B (a, b ≥ 0), A/B the frames just outside ``span``."""
    a_idx, b_idx = span.start - 1, span.end
    if a_idx < 0 or b_idx >= len(thumbs):
        return False
    a = thumbs[a_idx].astype(np.float32).ravel()
    b = thumbs[b_idx].astype(np.float32).ravel()
    basis = np.stack([a, b], axis=1)
    residuals = []
    for k in range(span.start, span.end):
        f = thumbs[k].astype(np.float32).ravel()
        coef, *_ = np.linalg.lstsq(basis, f, rcond=None)
        coef = np.clip(coef, 0, None)
        residuals.append(float(np.abs(basis @ coef - f).mean()))
    return float(np.median(residuals)) <= max_residual


def find_events(
    video: DecodedVideo,
    ui_samples: dict[int, bool],
    cuts: set[int],
    windows: list[Span],
    min_viewfinder_samples: int,
) -> list[EventSpan]:
    """Group viewfinder samples into runs; a run followed by a hard cut to a non-UI shot is an
    event. ``ui_samples`` maps each decision sample index to "shows a camera UI"."""
    idx = sorted(ui_samples)
    n = video.info.n_frames
    boundaries = sorted(set(cuts) | {w.start for w in windows} | {w.end for w in windows} | {n})
    events: list[EventSpan] = []
    k = 0
    while k < len(idx):
        if not ui_samples[idx[k]]:
            k += 1
            continue
        first = k
        while k + 1 < len(idx) and ui_samples[idx[k + 1]]:
            k += 1
        last = k
        k += 1
        if last - first + 1 < min_viewfinder_samples or k >= len(idx):
            continue
        cut = _strongest_change(video.diff, idx[last] + 1, idx[k] + 1)
        if any(cut in w or w.start == cut for w in windows):
            continue  # the run fades out: not a shutter press followed by the photo
        start = _run_start(video, idx[first], idx[first - 1] if first > 0 else -1, windows)
        end = next(b for b in boundaries if b > cut)
        events.append(EventSpan(len(events), Span(start, cut), Span(cut, end)))
    return events


def _strongest_change(diff: np.ndarray, lo: int, hi: int) -> int:
    """Frame index in ``[lo, hi)`` with the largest difference to its predecessor."""
    hi = min(hi, len(diff))
    return lo + int(np.argmax(diff[lo:hi])) if hi > lo else lo


def _run_start(video: DecodedVideo, first_ui: int, prev_sample: int, windows: list[Span]) -> int:
    """First frame of the viewfinder run: after the entering cut or transition window."""
    for w in windows:
        if w.start <= first_ui < w.end or prev_sample < w.end <= first_ui:
            return w.end
    if prev_sample < 0:
        return 0
    return _strongest_change(video.diff, prev_sample + 1, first_ui + 1)
