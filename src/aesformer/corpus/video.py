"""Encoding: the video sink (sensor noise + OpenCV ``VideoWriter``) and transition blends.

The sink writes to a hidden partial file and renames it into place only when every frame was
written (see :mod:`aesformer.fileio`). Noise is mild zero-mean Gaussian noise of standard
deviation ``noise_sigma`` (0..255 scale) drawn once per video as a small bank of frames that
is cycled, split into a positive and a negative ``uint8`` part so adding it is two saturating
OpenCV operations.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from aesformer.errors import OutputError
from aesformer.fileio import discard, partial_path

log = logging.getLogger("aesformer.corpus.video")
NOISE_BANK = 5


class NoiseBank:
    """Pre-drawn Gaussian noise frames for one video size, applied cyclically."""

    def __init__(self, rng: np.random.Generator, sigma: float, size: tuple[int, int]) -> None:
        self._pos: list[np.ndarray] = []
        self._neg: list[np.ndarray] = []
        if sigma <= 0:
            return
        w, h = size
        for _ in range(NOISE_BANK):
            noise = np.rint(rng.normal(0.0, sigma, (h, w, 3)).astype(np.float32))
            self._pos.append(np.clip(noise, 0, 255).astype(np.uint8))
            self._neg.append(np.clip(-noise, 0, 255).astype(np.uint8))

    def apply(self, frame: np.ndarray, index: int) -> np.ndarray:
        """A noisy copy of ``frame`` (``frame`` itself when sigma is 0)."""
        if not self._pos:
            return frame
        i = index % len(self._pos)
        return cv2.subtract(cv2.add(frame, self._pos[i]), self._neg[i])


class VideoSink:
    """Context manager writing BGR frames to ``path`` with ``codec`` at ``fps``."""

    def __init__(
        self, path: Path, codec: str, fps: int, size: tuple[int, int], noise: NoiseBank
    ) -> None:
        self.path, self.codec, self.fps, self.size, self.noise = path, codec, fps, size, noise
        self._tmp = partial_path(path)
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def __enter__(self) -> VideoSink:
        fourcc = cv2.VideoWriter_fourcc(*self.codec)
        writer = cv2.VideoWriter(str(self._tmp), cv2.CAP_FFMPEG, fourcc, float(self.fps), self.size)
        if not writer.isOpened():
            writer.release()
            discard(self._tmp)
            raise OutputError(
                f"{self.path}: cannot open a video writer with codec {self.codec!r} "
                "(not supported by this OpenCV/FFmpeg build, or the folder is not writable; "
                "codec 'mp4v' is always available)"
            )
        self._writer = writer
        return self

    def write(self, frame: np.ndarray) -> None:
        """Add noise to ``frame`` (``size`` BGR ``uint8``) and encode it."""
        if self._writer is None:
            raise RuntimeError("VideoSink.write outside its context")
        if frame.shape != (self.size[1], self.size[0], 3):
            raise ValueError(f"frame of shape {frame.shape} does not match video size {self.size}")
        self._writer.write(self.noise.apply(frame, self.frames))
        self.frames += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if exc_type is not None or self.frames == 0:
            discard(self._tmp)
            if exc_type is None:
                raise OutputError(f"{self.path}: no frames were written")
            return
        try:
            os.replace(self._tmp, self.path)
        except OSError as exc_:
            discard(self._tmp)
            raise OutputError(f"{self.path}: cannot write ({exc_.strerror or exc_})") from None
        log.debug("wrote %s (%d frames)", self.path, self.frames)


def blend(kind: str, a: np.ndarray, b: np.ndarray, k: int, n: int) -> np.ndarray:
    """Frame ``k`` of an ``n``-frame transition from the still ``a`` to the still ``b``.

    ``crossfade``: ``(1 - w) a + w b`` with ``w = (k + 1) / (n + 1)``, so every transition frame
    is a true mix; ``fade_black``: ``a`` darkens to black over the first half and ``b`` rises from
    black over the second, brightness ``|1 - 2u|`` with ``u = (k + 0.5) / n``.
    """
    if kind == "crossfade":
        w = (k + 1) / (n + 1)
        return cv2.addWeighted(a, 1.0 - w, b, w, 0.0)
    if kind == "fade_black":
        u = (k + 0.5) / n
        return cv2.convertScaleAbs(a if u < 0.5 else b, alpha=abs(1.0 - 2.0 * u))
    raise ValueError(f"unknown transition kind {kind!r}")
