"""Text detection and recognition behind one interface; engines are created once per process.

``rapidocr`` (PP-OCRv6 small through onnxruntime, offline) is the default. ``paddleocr`` is an
optional backend: its import is guarded and it needs its model hoster at start-up, so it does
not start on an offline machine. A backend returns :class:`TextLine` objects in the pixel
coordinates of the image it was given.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextLine:
    """One detected line of text: its axis-aligned box ``[x0, y0, x1, y1]``, text and score."""

    box: tuple[int, int, int, int]
    text: str
    score: float


class TextReader(Protocol):
    """An OCR engine: all text lines of a BGR image."""

    def read(self, image: np.ndarray) -> list[TextLine]: ...


Box4 = tuple[int, int, int, int]


class RapidOCRReader:
    """RapidOCR with the detector input capped at ``limit_side_len`` (no upscaling)."""

    def __init__(self, limit_side_len: int = 960) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # "detection result is empty"
        self.engine = RapidOCR(
            params={
                "Det.limit_type": "max",
                "Det.limit_side_len": limit_side_len,
                "Global.log_level": "error",
                "Global.use_cls": False,  # overlay text is upright: no angle classifier
                # one line per recognition call: a batch is padded to its widest line, and
                # subtitle lines differ in width, so batches of 6 (the default) cost ~40% more
                # here (bench: same texts; scores within 0.05, a padded short line read worse)
                "Rec.rec_batch_num": 1,
                # one video at a time uses every core (the stage's pool runs one per worker)
                "EngineConfig.onnxruntime.intra_op_num_threads": ort_threads(),
                # reuse buffers across calls of varying shapes: ~12% faster than without
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
            }
        )
        # RapidOCR loads its detection and recognition sessions on first use: load them now,
        # so the first video a process mines does not pay for them (~0.2 s)
        self.read(warmup_image())

    def read(self, image: np.ndarray) -> list[TextLine]:
        if image.size == 0 or min(image.shape[:2]) < 8:
            return []
        # every flag passed: RapidOCR keeps the flags of the previous call
        result = self.engine(np.ascontiguousarray(image), use_det=True, use_cls=False, use_rec=True)
        if result.boxes is None or getattr(result, "txts", None) is None:
            return []
        return [
            _line(np.asarray(box), str(text), float(score))
            for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True)
        ]

    def detect(self, image: np.ndarray) -> list[Box4]:
        """Text boxes only (no recognition): for checks that only ask *whether* text is there."""
        if image.size == 0 or min(image.shape[:2]) < 8:
            return []
        result = self.engine(
            np.ascontiguousarray(image), use_det=True, use_cls=False, use_rec=False
        )
        if getattr(result, "boxes", None) is None:
            return []
        return [_line(np.asarray(box), "", 1.0).box for box in result.boxes]


class PaddleOCRReader:
    """PaddleOCR 3.x (optional). Offline it fails at start-up: "No model hoster is available"."""

    def __init__(self, limit_side_len: int = 960) -> None:
        try:
            from paddleocr import PaddleOCR
        except ImportError as exc:
            raise RuntimeError("paddleocr is not installed (pip install paddleocr)") from exc
        self.engine = PaddleOCR(text_det_limit_type="max", text_det_limit_side_len=limit_side_len)

    def read(self, image: np.ndarray) -> list[TextLine]:
        lines: list[TextLine] = []
        for page in self.engine.predict(image):
            for poly, text, score in zip(
                page["rec_polys"], page["rec_texts"], page["rec_scores"], strict=True
            ):
                lines.append(_line(np.asarray(poly), str(text), float(score)))
        return lines


def warmup_image() -> np.ndarray:
    """A small white image with one line of black text (detected and recognised)."""
    image = np.full((48, 200, 3), 255, np.uint8)
    cv2.putText(image, "warm up", (8, 34), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (0, 0, 0), 2)
    return image


def _line(poly: np.ndarray, text: str, score: float) -> TextLine:
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    return TextLine((int(x0), int(y0), int(x1), int(y1)), text, score)


def ort_threads() -> int:
    """onnxruntime intra-op threads: the cores this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def detect_boxes(reader: TextReader, image: np.ndarray) -> list[Box4]:
    """Text boxes of ``image``: detection only where the engine offers it, else a full read."""
    detect = getattr(reader, "detect", None)
    if detect is not None:
        return list(detect(image))
    return [ln.box for ln in reader.read(image)]


READERS: dict[str, Callable[[int], TextReader]] = {
    "rapidocr": RapidOCRReader,
    "paddleocr": PaddleOCRReader,
}


@cache
def get_reader(name: str, limit_side_len: int) -> TextReader:
    """The process-wide engine ``name`` (created on first use: RapidOCR takes ~0.7 s)."""
    if name not in READERS:
        raise ValueError(f"unknown OCR backend {name!r}; known: {sorted(READERS)}")
    return READERS[name](limit_side_len)


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two pixel boxes ``(x0, y0, x1, y1)``."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
