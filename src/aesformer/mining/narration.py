"""The narration of an event: burned-in subtitles (default) or speech recognition.

``subtitles``: the subtitle band (around the lines OCR found on the poor frame) is watched on
the decision samples of the viewfinder run; where its bright-text pattern changes, that frame's
band is read by OCR (so OCR runs once per subtitle line, not per frame). Lines are joined in
order with consecutive duplicates removed.

``asr``: a transformers Whisper pipeline (``mine.asr_model``) transcribes the run's audio.
Off by default; it needs the model weights and FFmpeg to read the audio track.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aesformer.mining.ocr import TextLine, TextReader


def text_signature(band: np.ndarray, size: tuple[int, int] = (96, 16)) -> np.ndarray:
    """Binary pattern of subtitle strokes on a coarse grid: bright thin strokes standing out
    from their surround (a white top-hat), whatever their colour (white on a dark box, yellow
    with a dark outline)."""
    hsv = cv2.cvtColor(band, cv2.COLOR_BGR2HSV)
    value = hsv[..., 2]
    k = max(3, band.shape[0] // 6) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    tophat = cv2.morphologyEx(value, cv2.MORPH_TOPHAT, kernel)
    text = ((value > 190) & (tophat > 60)).astype(np.float32)
    return cv2.resize(text, size, interpolation=cv2.INTER_AREA) > 0.2


def change_points(bands: Sequence[np.ndarray], min_change: float = 0.3) -> list[int]:
    """Positions in ``bands`` where a subtitle appears with a text pattern not yet kept.

    Each band is compared with the last band kept (not the previous one), so a subtitle that
    blinks off and on, or whose background shifts a little under it, is read once. Two
    patterns differ when their symmetric difference exceeds ``min_change`` of their union.
    """
    points: list[int] = []
    kept: np.ndarray | None = None
    for k, band in enumerate(bands):
        sig = text_signature(band)
        if sig.any() and (kept is None or _differs(sig, kept, min_change)):
            points.append(k)
            kept = sig
    return points


def _differs(a: np.ndarray, b: np.ndarray, min_change: float) -> bool:
    union = int((a | b).sum())
    return union > 0 and int((a ^ b).sum()) / union > min_change


def read_lines(reader: TextReader, bands: Sequence[np.ndarray], min_score: float) -> list[str]:
    """OCR the bands in one call (stacked, separated by black rows); one text per band, top to
    bottom and left to right, consecutive duplicates removed."""
    return join_texts(read_bands(reader, bands, min_score))


def read_bands(reader: TextReader, bands: Sequence[np.ndarray], min_score: float) -> list[str]:
    """The text of each band ("" where none), all bands read by one stacked OCR call."""
    if not bands:
        return []
    width = max(b.shape[1] for b in bands)
    gap = max(8, bands[0].shape[0] // 2)
    parts, spans, y = [], [], 0
    for band in bands:
        pad = np.zeros((band.shape[0], width - band.shape[1], 3), np.uint8)
        parts += [np.hstack([band, pad]), np.zeros((gap, width, 3), np.uint8)]
        spans.append((y, y + band.shape[0]))
        y += band.shape[0] + gap
    lines = [ln for ln in reader.read(np.vstack(parts)) if ln.score >= min_score]
    return [band_text(lines, y0, y1) for y0, y1 in spans]


def band_text(lines: Sequence[TextLine], y0: float, y1: float) -> str:
    """The lines whose centre row lies in ``[y0, y1)``, top to bottom then left to right."""
    mine = sorted(
        (ln for ln in lines if y0 <= (ln.box[1] + ln.box[3]) / 2 < y1 and len(ln.text) > 1),
        key=lambda ln: (ln.box[1], ln.box[0]),
    )
    return " ".join(ln.text.strip() for ln in mine)


def join_texts(texts: Sequence[str]) -> list[str]:
    """Non-empty texts in order, consecutive duplicates (ignoring case/punctuation) removed."""
    out: list[str] = []
    for text in texts:
        if text and (not out or _norm(out[-1]) != _norm(text)):
            out.append(text)
    return out


class SubtitleMemory:
    """Subtitle texts already read in one video, keyed by their stroke pattern
    (:func:`text_signature`).

    A band whose pattern matches a remembered one (symmetric difference at most
    ``max_diff`` of the union; stricter than the change threshold of :func:`change_points`)
    is the same subtitle: its text is reused instead of being read again. Seeded with the
    poor frame's band, whose lines the overlay OCR has already read, and with every band read
    for an earlier event (tutorials repeat their subtitles across events).
    """

    def __init__(self, max_diff: float = 0.15) -> None:
        self.max_diff = max_diff
        self.entries: list[tuple[np.ndarray, str]] = []

    def add(self, signature: np.ndarray, text: str) -> None:
        if signature.any():
            self.entries.append((signature, text))

    def lookup(self, signature: np.ndarray) -> str | None:
        """The text of the closest remembered pattern within ``max_diff``, else ``None``."""
        best, found = self.max_diff, None
        for sig, text in self.entries:
            d = pattern_distance(signature, sig)
            if d <= best:
                best, found = d, text
        return found


def pattern_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric difference of two stroke patterns over their union (0 = identical)."""
    union = int((a | b).sum())
    return 0.0 if union == 0 else int((a ^ b).sum()) / union


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


class WhisperNarrator:
    """Speech recognition of a video interval with a transformers ASR pipeline."""

    def __init__(self, model: str, pipeline_factory: Callable[..., Any] | None = None) -> None:
        if pipeline_factory is None:
            from transformers import pipeline as pipeline_factory
        self.pipe = pipeline_factory("automatic-speech-recognition", model=model)

    def transcribe(self, video: Path, start_s: float, end_s: float) -> str:
        """Text spoken in ``[start_s, end_s)`` of ``video`` (chunks overlapping the interval)."""
        result = self.pipe(str(video), return_timestamps=True, chunk_length_s=30)
        chunks = result.get("chunks") or [{"text": result.get("text", ""), "timestamp": (0, None)}]
        words = []
        for chunk in chunks:
            t0, t1 = chunk["timestamp"]
            t1 = float("inf") if t1 is None else t1
            if t0 < end_s and t1 > start_s:
                words.append(chunk["text"].strip())
        return " ".join(w for w in words if w)


@cache
def get_narrator(model: str) -> WhisperNarrator:
    """The process-wide ASR pipeline for ``model``."""
    return WhisperNarrator(model)
