"""The narration of an event: burned-in subtitles (default) or speech recognition.

``subtitles``: the subtitle band (around the lines OCR found on the poor frame) is watched on
the decision samples of the viewfinder run; where its bright-text pattern changes, that frame's
band is read by OCR (so OCR runs once per subtitle line, not per frame). Lines are joined in
order with consecutive duplicates removed.

``asr``: a transformers Whisper pipeline (``mine.asr_model``) transcribes the run's audio.
Off by default; it needs the model weights and FFmpeg to read the audio track.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rapidfuzz import fuzz

from aesformer.mining.ocr import TextLine, TextReader

#: Consecutive reads at least this alike (``fuzz.ratio``, 0-100) are one subtitle ("raise the
#: exposure by about one stop" / "lower ...": 87, two subtitles).
SAME_READ = 88.0


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


def subtitle_lines(lines: Sequence[TextLine], min_letters: int = 4) -> list[TextLine]:
    """The subtitle among the text lines OCR found on a viewfinder frame.

    The line with the most letters and digits (at least ``min_letters``: camera-UI labels such
    as the zoom buttons ``.5`` / ``1x`` or ``HDR`` are shorter) and the lines stacked with it:
    rows within 1.5 line heights of the lines kept, a similar height (0.6–1.6×) and a centre
    within the widest line's columns (a subtitle wrapped over two lines is centred). Empty
    when no line is long enough.
    """
    letters = [sum(ch.isalnum() for ch in ln.text) for ln in lines]
    if not lines or max(letters) < min_letters:
        return []
    seed = lines[max(range(len(lines)), key=lambda k: letters[k])]
    height = seed.box[3] - seed.box[1]
    kept = [seed]
    grew = True
    while grew:
        grew = False
        top, bottom = min(ln.box[1] for ln in kept), max(ln.box[3] for ln in kept)
        x0, x1 = min(ln.box[0] for ln in kept), max(ln.box[2] for ln in kept)
        for ln in lines:
            h = ln.box[3] - ln.box[1]
            centre = (ln.box[0] + ln.box[2]) / 2
            near = ln.box[1] < bottom + 1.5 * height and ln.box[3] > top - 1.5 * height
            if (
                ln not in kept
                and near
                and 0.6 * height <= h <= 1.6 * height
                and x0 <= centre <= x1
                and any(ch.isalnum() for ch in ln.text)
            ):
                kept.append(ln)
                grew = True
    return sorted(kept, key=lambda ln: (ln.box[1], ln.box[0]))


def subtitle_rows(lines: Sequence[TextLine], height: int) -> tuple[int, int] | None:
    """Rows ``[y0, y1)`` of a frame ``height`` rows high to watch for the subtitle of ``lines``
    (:func:`subtitle_lines`), with room for one more line on the side it grows to: below a
    subtitle in the upper half of the frame, above one in the lower half (so the camera UI at
    the frame's edge stays out); ``None`` without a subtitle."""
    subtitle = subtitle_lines(lines)
    if not subtitle:
        return None
    y0 = min(ln.box[1] for ln in subtitle)
    y1 = max(ln.box[3] for ln in subtitle)
    lh = max(ln.box[3] - ln.box[1] for ln in subtitle)
    grow, keep = 1.8 * lh, 0.5 * lh
    above, below = (keep, grow) if (y0 + y1) / 2 < height / 2 else (grow, keep)
    return max(0, round(y0 - above)), min(height, round(y1 + below))


def join_texts(texts: Sequence[str], same: float = SAME_READ) -> list[str]:
    """Non-empty texts in order, consecutive reads of one subtitle kept once.

    Two consecutive texts are one subtitle when their letters and digits (lower-cased) are at
    least ``same`` % alike (``rapidfuzz`` ``fuzz.ratio``; a subtitle without a box over moving
    footage changes its stroke pattern, is read again and comes back with other OCR slips), or
    one is a fragment of the other (at most 80 % of its length and ``fuzz.partial_ratio`` ≥
    ``same``: read while the subtitle came or went), unless both name quantities (digits,
    number words) and not the same ones; the longer read is kept.
    """
    out: list[str] = []
    for text in texts:
        if not text:
            continue
        if out and _same_subtitle(out[-1], text, same):
            if len(_norm(text)) > len(_norm(out[-1])):
                out[-1] = text
            continue
        out.append(text)
    return out


def join_subtitles(texts: Sequence[str]) -> str:
    """An event's subtitles as one narration, one sentence each: a full stop closes a subtitle
    that does not end in ``.!?``, so readers of the narration (``annotate``'s pose clause, a
    VLM teacher) see where one instruction ends and the next begins."""
    sentences = [t.strip() for t in texts if t.strip()]
    return " ".join(t if t[-1] in ".!?" else t + "." for t in sentences)


def _same_subtitle(a: str, b: str, same: float) -> bool:
    na, nb = _norm(a), _norm(b)
    if na == nb:
        return True
    if not na or not nb:
        return False
    qa, qb = _quantities(a), _quantities(b)
    if qa and qb and qa != qb:
        return False  # "about four degrees" then "about five degrees": two instructions
    short, long = sorted((na, nb), key=len)
    if len(short) <= 0.8 * len(long):  # a fragment: read while the subtitle came or went
        return len(short) >= 8 and fuzz.partial_ratio(short, long) >= same
    return fuzz.ratio(na, nb) >= same


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


_NUMBER_WORDS = frozenset(
    "zero one two three four five six seven eight nine ten eleven twelve half quarter".split()  # noqa: SIM905
)


def _quantities(text: str) -> set[str]:
    """Digit runs and whole number words of ``text`` (lower-case)."""
    words = re.findall(r"[a-z]+|\d+", text.lower())
    return {w for w in words if w.isdigit() or w in _NUMBER_WORDS}


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
