"""Camera-app chrome of the viewfinder frames, and the text drawing shared by all overlays.

A viewfinder frame is laid out like a phone camera app recorded in landscape: a top status bar
(clock, mode text, aspect-ratio chip, signal and battery icons), a bottom bar (mode labels,
round shutter button, gallery thumbnail, camera-flip icon) and between them the preview area,
in which the live photo is fitted at its own aspect ratio with rule-of-thirds grid lines and
the burned-in narration subtitle (white text, black outline, on a darkened box).

Bars depend only on (aspect, mode, shutter state) and are rendered once per combination;
subtitles once per text; a frame is then a copy plus a few slice operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from aesformer.corpus.camera import ASPECTS, fit_size

BGR = tuple[int, int, int]
FONT = cv2.FONT_HERSHEY_DUPLEX
BAR_COLOUR: BGR = (30, 30, 30)
TEXT_COLOUR: BGR = (245, 245, 245)
ACTIVE_COLOUR: BGR = (0, 204, 255)
TOP_BAR = 0.08
BOTTOM_BAR = 0.17
GRID_ALPHA = 0.5
SUBTITLE_SHADE = 0.35
MODES = ("VIDEO", "PHOTO", "PORTRAIT")


@dataclass(frozen=True)
class Rect:
    """An axis-aligned pixel rectangle ``[x, x + w) x [y, y + h)``."""

    x: int
    y: int
    w: int
    h: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)

    def box(self) -> list[int]:
        """``[x0, y0, x1, y1]`` (end exclusive)."""
        return [self.x, self.y, self.x + self.w, self.y + self.h]


# --------------------------------------------------------------------------- text
def font_scale(frame_height: int, size: float = 1.0) -> tuple[float, int]:
    """``(scale, thickness)`` of :data:`FONT` for text of relative ``size`` in a frame."""
    scale = size * frame_height / 720 * 1.1
    return scale, max(1, round(2 * scale))


def text_size(text: str, scale: float, thickness: int) -> tuple[int, int]:
    """Width and height (cap height plus descent) of ``text`` in pixels."""
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h + baseline


def draw_text(
    image: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float,
    thickness: int,
    colour: BGR = TEXT_COLOUR,
    outline: bool = True,
) -> None:
    """Draw ``text`` with its baseline-left at ``org``; a black outline keeps it readable."""
    if outline:
        cv2.putText(
            image, text, org, FONT, scale, (0, 0, 0), thickness + 2 * max(1, thickness), cv2.LINE_AA
        )
    cv2.putText(image, text, org, FONT, scale, colour, thickness, cv2.LINE_AA)


def wrap(text: str, max_width: int, scale: float, thickness: int) -> list[str]:
    """Greedy word wrap of ``text`` into lines at most ``max_width`` pixels wide."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and text_size(candidate, scale, thickness)[0] <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def draw_centred_lines(
    image: np.ndarray,
    lines: list[str],
    centre_x: int,
    top: int,
    scale: float,
    thickness: int,
    colour: BGR = TEXT_COLOUR,
) -> int:
    """Draw centred lines from ``top`` downwards; returns the y below the last line."""
    y = top
    for line in lines:
        w, h = text_size(line, scale, thickness)
        draw_text(image, line, (centre_x - w // 2, y + round(h * 0.75)), scale, thickness, colour)
        y += round(h * 1.35)
    return y


# --------------------------------------------------------------------------- layout
def fit_image(image: np.ndarray, box_w: int, box_h: int) -> np.ndarray:
    """``image`` scaled (aspect kept) to the largest size fitting ``box_w x box_h``."""
    h, w = image.shape[:2]
    s = min(box_w / w, box_h / h)
    if s == 1.0:
        return image
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)


def paste_centred(canvas: np.ndarray, image: np.ndarray, box: Rect) -> Rect:
    """Paste ``image`` (fitting ``box``) centred in ``box`` of ``canvas``; returns where."""
    h, w = image.shape[:2]
    r = Rect(box.x + (box.w - w) // 2, box.y + (box.h - h) // 2, w, h)
    canvas[r.slices] = image
    return r


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` fitted into a black ``size = (w, h)`` frame, centred (letter/pillar-boxed).

    A clean photo of the corpus is already at its fitted size, so showing it full screen is an
    exact copy of its pixels; other images are scaled first.
    """
    w, h = size
    canvas = np.zeros((h, w, 3), np.uint8)
    paste_centred(canvas, fit_image(image, w, h), Rect(0, 0, w, h))
    return canvas


# --------------------------------------------------------------------------- chrome
class ViewfinderChrome:
    """Pre-rendered camera-app UI of one video size; :meth:`frame` composes a viewfinder frame.

    This is the ``classic`` look; :mod:`aesformer.corpus.ui_styles` holds the others and
    :func:`~aesformer.corpus.ui_styles.make_chrome` picks one by name.
    """

    style = "classic"

    def __init__(self, width: int, height: int, clock: str, battery: float) -> None:
        self.width, self.height = width, height
        self.clock, self.battery = clock, battery
        self.top = round(TOP_BAR * height)
        self.bottom = round(BOTTOM_BAR * height)
        self._bases: dict[tuple[str, str, bool], np.ndarray] = {}
        self._subtitles: dict[str, tuple[Rect, np.ndarray, np.ndarray]] = {}

    @cached_property
    def preview(self) -> Rect:
        """The area between the bars."""
        return Rect(0, self.top, self.width, self.height - self.top - self.bottom)

    def photo_rect(self, aspect: str) -> Rect:
        """Where a photo of format ``aspect`` is shown: fitted and centred in the preview."""
        p = self.preview
        w, h = fit_size(ASPECTS[aspect], p.w, p.h)
        return Rect(p.x + (p.w - w) // 2, p.y + (p.h - h) // 2, w, h)

    def frame(
        self,
        photo: np.ndarray,
        aspect: str,
        mode: str,
        subtitle: str | None,
        pressed: bool,
        level_deg: float = 0.0,
    ) -> np.ndarray:
        """A full viewfinder frame showing ``photo`` (already sized to :meth:`photo_rect`).

        ``level_deg`` is the camera roll (for looks with a level indicator; unused here).
        """
        out = self._base(aspect, mode, pressed).copy()
        r = self.photo_rect(aspect)
        out[r.slices] = photo
        self._grid(out, r)
        if subtitle:
            self._paste_subtitle(out, subtitle)
        return out

    # ------------------------------------------------------------------ pieces
    def _grid(self, image: np.ndarray, r: Rect) -> None:
        t = max(1, self.height // 360)
        for i in (1, 2):
            x = r.x + r.w * i // 3
            y = r.y + r.h * i // 3
            for sl in (image[r.y : r.y + r.h, x : x + t], image[y : y + t, r.x : r.x + r.w]):
                cv2.addWeighted(sl, 1 - GRID_ALPHA, sl, 0, 255 * GRID_ALPHA, dst=sl)

    def _paste_subtitle(self, image: np.ndarray, text: str) -> None:
        if text not in self._subtitles:
            self._subtitles[text] = self._render_subtitle(text)
        rect, patch, mask = self._subtitles[text]
        roi = image[rect.slices]
        cv2.convertScaleAbs(roi, dst=roi, alpha=SUBTITLE_SHADE)
        cv2.copyTo(patch, mask, roi)

    def _render_subtitle(self, text: str) -> tuple[Rect, np.ndarray, np.ndarray]:
        """Box rectangle, text pixels and their ``uint8`` mask of a (wrapped) subtitle."""
        scale, thick = font_scale(self.height)
        lines = wrap(text, round(self.width * 0.86), scale, thick)
        line_h = round(text_size("Ag", scale, thick)[1] * 1.35)
        pad = max(2, round(line_h * 0.3))
        width = max(text_size(line, scale, thick)[0] for line in lines) + 2 * pad
        height = line_h * len(lines) + 2 * pad
        bottom = self.preview.y + self.preview.h - round(0.03 * self.height)
        rect = Rect((self.width - width) // 2, bottom - height, width, height)
        canvas = np.zeros((height, width, 3), np.uint8)
        draw_centred_lines(canvas, lines, width // 2, pad, scale, thick)
        mask = (canvas.max(axis=2) > 0).astype(np.uint8)
        return rect, canvas, mask

    def _base(self, aspect: str, mode: str, pressed: bool) -> np.ndarray:
        key = (aspect, mode, pressed)
        if key not in self._bases:
            base = np.zeros((self.height, self.width, 3), np.uint8)
            base[: self.top] = BAR_COLOUR
            base[self.height - self.bottom :] = BAR_COLOUR
            self._status_bar(base, aspect, mode)
            self._bottom_bar(base, mode, pressed)
            self._bases[key] = base
        return self._bases[key]

    def _status_bar(self, image: np.ndarray, aspect: str, mode: str) -> None:
        scale, thick = font_scale(self.height, 0.55)
        base_y = (self.top + text_size("0", scale, thick)[1]) // 2
        margin = round(0.02 * self.width)
        draw_text(image, self.clock, (margin, base_y), scale, thick, outline=False)
        label = f"{mode}  {aspect}"
        x = (self.width - text_size(label, scale, thick)[0]) // 2
        draw_text(image, label, (x, base_y), scale, thick, ACTIVE_COLOUR, outline=False)
        unit = max(2, self.top // 6)
        battery_x = self.width - margin - 6 * unit
        self._battery(image, battery_x, self.top // 2, unit)
        self._signal(image, battery_x - 7 * unit, self.top // 2, unit)

    def _battery(self, image: np.ndarray, x: int, cy: int, u: int) -> None:
        """Battery icon ``5u x 2u`` with its left edge at ``x``, filled to the charge level."""
        cv2.rectangle(image, (x, cy - u), (x + 5 * u, cy + u), TEXT_COLOUR, 1)
        fill = x + 1 + round((5 * u - 2) * self.battery)
        cv2.rectangle(image, (x + 1, cy - u + 1), (fill, cy + u - 1), TEXT_COLOUR, -1)
        cv2.rectangle(
            image, (x + 5 * u, cy - u // 2), (x + 5 * u + u // 2, cy + u // 2), TEXT_COLOUR, -1
        )

    @staticmethod
    def _signal(image: np.ndarray, x: int, cy: int, u: int) -> None:
        """Four rising signal-strength bars starting at ``x``."""
        for i in range(4):
            bx = x + i * 3 * u // 2
            cv2.rectangle(image, (bx, cy + u // 2 - i * u // 2), (bx + u, cy + u), TEXT_COLOUR, -1)

    def _bottom_bar(self, image: np.ndarray, mode: str, pressed: bool) -> None:
        y0 = self.height - self.bottom
        cy = y0 + self.bottom // 2
        r = round(self.bottom * 0.36)
        cx = self.width // 2
        cv2.circle(image, (cx, cy), r, TEXT_COLOUR, max(2, r // 8), cv2.LINE_AA)
        inner = (170, 170, 170) if pressed else TEXT_COLOUR
        cv2.circle(image, (cx, cy), round(r * (0.7 if pressed else 0.8)), inner, -1, cv2.LINE_AA)
        side = round(r * 1.3)
        tx = round(0.06 * self.width)
        cv2.rectangle(image, (tx, cy - side // 2), (tx + side, cy + side // 2), (120, 120, 120), -1)
        cv2.circle(image, (self.width - tx - side // 2, cy), side // 2, TEXT_COLOUR, 1, cv2.LINE_AA)
        self._mode_labels(image, mode, cy)

    def _mode_labels(self, image: np.ndarray, active: str, cy: int) -> None:
        """The camera modes in a row centred at 30 % of the width, ``active`` highlighted."""
        scale, thick = font_scale(self.height, 0.5)
        widths = [text_size(m, scale, thick)[0] for m in MODES]
        gap = round(0.025 * self.width)
        x = round(0.3 * self.width) - (sum(widths) + gap * (len(MODES) - 1)) // 2
        for label, w in zip(MODES, widths, strict=True):
            colour = ACTIVE_COLOUR if label == active else TEXT_COLOUR
            y = cy + text_size(label, scale, thick)[1] // 3
            draw_text(image, label, (x, y), scale, thick, colour, outline=False)
            x += w + gap
