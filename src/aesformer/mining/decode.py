"""One decoding pass per video: analysis signals for every frame, sampled frames, seek-back.

The pass reads every frame once with OpenCV and keeps only what the later steps need:

- per frame, a tiny grayscale thumbnail (``thumb_width`` wide) for transition analysis, the
  mean absolute difference to the previous frame at analysis size (motion / stillness) and the
  mean luma;
- every frame at ``analysis_width`` is handed to an optional callback (the PySceneDetect cut
  detector of :mod:`aesformer.mining.segments`) and then dropped;
- the frames on the ``sample_fps`` decision grid, at analysis size.

The next few frames are decoded on a second thread while one is analysed (:class:`ReadAhead`,
``read_ahead`` frames; 0: one thread). Full-resolution frames are not kept: :func:`read_frames`
seeks back to the few frames that end up selected and verifies each against its analysis
sample, falling back to a sequential read where the container's seek is not frame-exact.
Rotation metadata is applied by OpenCV (``CAP_PROP_ORIENTATION_AUTO``); the angle is reported.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FrameCallback = Callable[[int, np.ndarray], None]


class DecodeError(Exception):
    """A video that cannot be mined at all; ``reason`` is the reject code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    """Stream properties as decoded (after rotation)."""

    width: int
    height: int
    fps: float
    n_frames: int
    declared_frames: int
    rotation_deg: int

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps


@dataclass
class DecodedVideo:
    """What one pass keeps: per-frame signals, thumbnails and the sampled analysis frames."""

    info: VideoInfo
    diff: np.ndarray  # (n,) mean |frame_i - frame_{i-1}| at analysis size; diff[0] = 0
    luma: np.ndarray  # (n,) mean gray level at analysis size
    thumbs: np.ndarray  # (n, th, tw) uint8 gray thumbnails
    samples: dict[int, np.ndarray] = field(default_factory=dict)  # index -> analysis BGR
    scale: float = 1.0  # analysis pixels per full-resolution pixel
    fine: dict[int, np.ndarray] = field(default_factory=dict)  # index -> gray, fine_width wide

    def sample_indices(self) -> list[int]:
        return sorted(self.samples)


def analysis_size(width: int, height: int, analysis_width: int) -> tuple[int, int]:
    """Analysis frame size: ``analysis_width`` wide (never upscaled), aspect kept, even."""
    w = min(width, analysis_width)
    h = max(2, round(height * w / width / 2) * 2)
    return w, h


def downscale(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` reduced to ``size``: exact 2x area halvings, then one area resampling.

    OpenCV's area resize has a fast path for an exact factor of 2: two halvings of a 720p frame
    to 320x180 cost a third of one direct area resize, with the same result (within 1 level).
    """
    w, h = size
    while frame.shape[1] >= 2 * w and frame.shape[0] >= 2 * h:
        half = (frame.shape[1] // 2, frame.shape[0] // 2)
        frame = cv2.resize(frame, half, interpolation=cv2.INTER_AREA)
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)


def sample_grid(n_frames: int, fps: float, sample_fps: float) -> list[int]:
    """Frame indices of the decision grid: one every ``fps / sample_fps`` frames."""
    step = max(1.0, fps / sample_fps)
    return sorted({min(n_frames - 1, round(k * step)) for k in range(int(n_frames / step) + 1)})


def open_capture(path: Path) -> cv2.VideoCapture:
    """Open ``path`` for decoding or raise :class:`DecodeError` with a reason code."""
    if not path.is_file():
        raise DecodeError("missing_file", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise DecodeError("empty_file", f"{path} has zero bytes")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise DecodeError("unreadable", f"{path}: no decodable video stream")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return cap


class ReadAhead:
    """``cap.read()`` on a background thread, up to ``depth`` frames ahead of the caller.

    OpenCV's FFmpeg decoding here runs on one core and releases the GIL, as do the OpenCV and
    NumPy calls of the analysis, so decoding the next frames while the caller analyses this one
    overlaps the two on a second core. :meth:`read` returns ``(ok, frame)`` like
    ``cv2.VideoCapture.read`` (``(False, None)`` from the end on) and re-raises a decoding
    error in the caller; :meth:`close` (also on leaving a ``with`` block) stops the thread
    before the capture may be released.
    """

    def __init__(self, cap: cv2.VideoCapture, depth: int = 4) -> None:
        self._cap = cap
        self._queue: queue.Queue[np.ndarray | BaseException | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="decode-read-ahead", daemon=True)
        self._thread.start()

    def _offer(self, item: np.ndarray | BaseException | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while True:
                ok, frame = self._cap.read()
                item = frame if ok and frame is not None else None
                if not self._offer(item) or item is None:
                    return
        except BaseException as exc:  # handed to the caller's thread
            self._offer(exc)

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self._done:
            return False, None
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._done = True
            raise item
        if item is None:
            self._done = True
            return False, None
        return True, item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode(
    path: Path,
    analysis_width: int,
    sample_fps: float,
    thumb_width: int = 64,
    on_frame: FrameCallback | None = None,
    fine_width: int = 640,
    read_ahead: int = 4,
) -> DecodedVideo:
    """Decode ``path`` once; see the module docstring for what is kept."""
    cap = open_capture(path)
    ahead: ReadAhead | None = None
    try:
        fps = cap.get(cv2.CAP_PROP_FPS)
        declared = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        ok, frame = cap.read()
        if not ok or frame is None:
            raise DecodeError("no_frames", f"{path}: the video stream has no decodable frame")
        height, width = frame.shape[:2]
        aw, ah = analysis_size(width, height, analysis_width)
        tw = min(thumb_width, aw)
        th = max(2, round(ah * tw / aw))
        step = max(1.0, fps / sample_fps)
        diffs: list[float] = [0.0]
        lumas: list[float] = []
        thumbs: list[np.ndarray] = []
        samples: dict[int, np.ndarray] = {}
        fine: dict[int, np.ndarray] = {}
        fw, fh = analysis_size(width, height, fine_width)
        prev: np.ndarray | None = None
        index, next_sample = 0, 0.0
        ahead = ReadAhead(cap, read_ahead) if read_ahead > 0 else None
        while ok:
            small = frame if (aw, ah) == (width, height) else downscale(frame, (aw, ah))
            gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            if prev is not None:
                diffs.append(float(cv2.absdiff(gray, prev).mean()))
            lumas.append(float(gray.mean()))
            thumbs.append(cv2.resize(gray, (tw, th), interpolation=cv2.INTER_AREA))
            if index >= next_sample - 1e-6:
                samples[index] = small
                fine[index] = cv2.cvtColor(downscale(frame, (fw, fh)), cv2.COLOR_BGR2GRAY)
                next_sample += step
            if on_frame is not None:
                on_frame(index, small)
            prev = gray
            index += 1
            ok, frame = ahead.read() if ahead is not None else cap.read()
            if ok and frame is not None and frame.shape[:2] != (height, width):
                break  # a stream that changes size mid-way: keep the consistent prefix
    finally:
        if ahead is not None:
            ahead.close()  # the thread stops reading before the capture goes
        cap.release()
    last = index - 1
    if last not in samples and index > 1:
        samples[last] = small
    info = VideoInfo(width, height, float(fps), index, declared, rotation)
    return DecodedVideo(
        info=info,
        diff=np.asarray(diffs, np.float32),
        luma=np.asarray(lumas, np.float32),
        thumbs=np.stack(thumbs),
        samples=samples,
        scale=aw / width,
        fine=fine,
    )


def read_frames(
    path: Path, indices: Iterable[int], references: dict[int, np.ndarray] | None = None
) -> dict[int, np.ndarray]:
    """Full-resolution frames at ``indices``, by seeking; verified against ``references``.

    ``references`` maps an index to its analysis-size frame from :func:`decode`; a seek that
    lands on another frame (mean difference above 6 gray levels) makes the whole request fall
    back to one sequential read up to the last wanted index.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return {}
    out: dict[int, np.ndarray] = {}
    cap = open_capture(path)
    try:
        for i in wanted:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, frame = cap.read()
            if not ok or not _matches(frame, (references or {}).get(i)):
                out.clear()
                break
            out[i] = frame
    finally:
        cap.release()
    if len(out) == len(wanted):
        return out
    return _read_sequential(path, wanted)


def _matches(frame: np.ndarray, reference: np.ndarray | None) -> bool:
    if reference is None:
        return True
    h, w = reference.shape[:2]
    small = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
    return float(cv2.absdiff(small, reference).mean()) < 6.0


def _read_sequential(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    targets = set(wanted)
    cap = open_capture(path)
    try:
        for i in range(wanted[-1] + 1):
            if i in targets:
                ok, frame = cap.read()
                if not ok:
                    break
                out[i] = frame
            elif not cap.grab():
                break
    finally:
        cap.release()
    return out
