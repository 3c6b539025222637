"""Camera-app looks besides the classic one, and the factory that picks a look by name.

The ``pro`` look is a "pro camera" app recorded in landscape, deliberately unlike ``classic``
(:class:`~aesformer.corpus.ui.ViewfinderChrome`) in every element a miner could key on:

- a thin *light* top bar (flash and timer icons, ``HDR``/``RAW`` chips, mode and format
  label, clock, battery) and a light control column on the *right* instead of a dark bottom
  bar: mode labels stacked vertically, a ring shutter with a square centre, gallery thumbnail
  and camera-flip icon;
- no rule-of-thirds grid: a centre crosshair, focus brackets and a level line that follows the
  camera roll (green when the horizon is level);
- zoom chips ``.5  1x  2`` over the bottom of the live photo;
- the subtitle in yellow outlined text *without* a box, near the *top* of the photo.

As in the classic look, the bars depend only on (aspect, mode, shutter state) and are rendered
once per combination, the static photo overlays once per aspect, subtitles once per text.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal

import cv2
import numpy as np

from aesformer.corpus.ui import (
    BGR,
    FONT,
    MODES,
    Rect,
    ViewfinderChrome,
    draw_text,
    font_scale,
    text_size,
    wrap,
)

UiStyle = Literal["classic", "pro"]
UI_STYLES: tuple[UiStyle, ...] = ("classic", "pro")
"""Concrete looks; the config value ``mixed`` draws one of these per video."""

PRO_BAR: BGR = (222, 222, 218)
PRO_INK: BGR = (48, 48, 48)
PRO_ACCENT: BGR = (0, 140, 255)
PRO_SUBTITLE: BGR = (0, 230, 255)
PRO_LEVEL_OK: BGR = (80, 220, 80)
PRO_OVERLAY: BGR = (235, 235, 235)
PRO_TOP_BAR = 0.06
PRO_SIDE_BAR = 0.13
LEVEL_TOLERANCE_DEG = 0.5
"""Roll below which the level line turns green."""
ZOOM_CHIPS = (".5", "1x", "2")


class ProChrome(ViewfinderChrome):
    """The ``pro`` camera-app look (see the module docstring)."""

    style = "pro"

    def __init__(self, width: int, height: int, clock: str, battery: float) -> None:
        super().__init__(width, height, clock, battery)
        self.top = round(PRO_TOP_BAR * height)
        self.side = round(PRO_SIDE_BAR * width)
        self.bottom = 0
        self._overlays: dict[str, tuple[Rect, np.ndarray, np.ndarray]] = {}

    @cached_property
    def preview(self) -> Rect:
        """The area left of the control column and below the top bar."""
        return Rect(0, self.top, self.width - self.side, self.height - self.top)

    def frame(
        self,
        photo: np.ndarray,
        aspect: str,
        mode: str,
        subtitle: str | None,
        pressed: bool,
        level_deg: float = 0.0,
    ) -> np.ndarray:
        """A viewfinder frame; the level line is drawn at ``level_deg`` (the camera roll)."""
        out = self._base(aspect, mode, pressed).copy()
        r = self.photo_rect(aspect)
        out[r.slices] = photo
        rect, patch, mask = self._overlay(aspect)
        cv2.copyTo(patch, mask, out[rect.slices])
        self._level(out, r, level_deg)
        if subtitle:
            self._paste_subtitle(out, subtitle)
        return out

    # ------------------------------------------------------------------ overlays
    def _overlay(self, aspect: str) -> tuple[Rect, np.ndarray, np.ndarray]:
        """Crosshair, focus brackets and zoom chips over the photo of format ``aspect``."""
        if aspect not in self._overlays:
            r = self.photo_rect(aspect)
            patch = np.zeros((r.h, r.w, 3), np.uint8)
            mask = np.zeros((r.h, r.w), np.uint8)
            t = max(1, self.height // 360)
            cx, cy = r.w // 2, r.h // 2
            arm = max(4, round(0.02 * self.height))
            for img, c in ((patch, PRO_OVERLAY), (mask, 255)):
                cv2.line(img, (cx - arm, cy), (cx + arm, cy), c, t)
                cv2.line(img, (cx, cy - arm), (cx, cy + arm), c, t)
            self._focus_brackets(patch, mask, cx, cy, round(0.11 * self.height), t)
            self._zoom_chips(patch, mask, r)
            self._overlays[aspect] = (r, patch, mask)
        return self._overlays[aspect]

    def _focus_brackets(
        self, patch: np.ndarray, mask: np.ndarray, cx: int, cy: int, half: int, t: int
    ) -> None:
        """Four yellow corner brackets of a ``2 half`` square focus box centred at (cx, cy)."""
        leg = max(3, half // 3)
        for sx in (-1, 1):
            for sy in (-1, 1):
                x, y = cx + sx * half, cy + sy * half
                for img, c in ((patch, PRO_SUBTITLE), (mask, 255)):
                    cv2.line(img, (x, y), (x - sx * leg, y), c, t)
                    cv2.line(img, (x, y), (x, y - sy * leg), c, t)

    def _zoom_chips(self, patch: np.ndarray, mask: np.ndarray, r: Rect) -> None:
        """Round zoom chips in a row at the bottom centre of the photo, ``1x`` active."""
        scale, thick = font_scale(self.height, 0.42)
        radius = max(6, round(0.032 * self.height))
        gap = round(radius * 2.6)
        cy = r.h - round(radius * 1.6)
        for i, label in enumerate(ZOOM_CHIPS):
            cx = r.w // 2 + (i - 1) * gap
            cv2.circle(patch, (cx, cy), radius, (52, 52, 52), -1, cv2.LINE_AA)
            cv2.circle(mask, (cx, cy), radius, 255, -1, cv2.LINE_AA)
            w, h = text_size(label, scale, thick)
            colour = PRO_SUBTITLE if label == "1x" else PRO_OVERLAY
            org = (cx - w // 2, cy + h // 3)
            cv2.putText(patch, label, org, FONT, scale, colour, thick, cv2.LINE_AA)
        np.copyto(mask, np.uint8(255), where=mask > 0)

    def _level(self, image: np.ndarray, r: Rect, roll_deg: float) -> None:
        """A broken horizontal line through the photo centre, rotated with the horizon."""
        a = math.radians(roll_deg)
        dx, dy = math.cos(a), -math.sin(a)  # positive roll: the horizon rises to the right
        cx, cy = r.x + r.w / 2, r.y + r.h / 2
        inner, outer = 0.06 * r.w, 0.2 * r.w
        colour = PRO_LEVEL_OK if abs(roll_deg) < LEVEL_TOLERANCE_DEG else PRO_OVERLAY
        t = max(1, self.height // 360)
        for side in (-1, 1):
            p0 = (round(cx + side * inner * dx), round(cy + side * inner * dy))
            p1 = (round(cx + side * outer * dx), round(cy + side * outer * dy))
            cv2.line(image, p0, p1, colour, t, cv2.LINE_AA)

    # ------------------------------------------------------------------ subtitle
    def _paste_subtitle(self, image: np.ndarray, text: str) -> None:
        if text not in self._subtitles:
            self._subtitles[text] = self._render_subtitle(text)
        rect, patch, mask = self._subtitles[text]
        cv2.copyTo(patch, mask, image[rect.slices])

    def _render_subtitle(self, text: str) -> tuple[Rect, np.ndarray, np.ndarray]:
        """Yellow outlined text without a box, centred near the top of the preview."""
        scale, thick = font_scale(self.height, 0.85)
        p = self.preview
        lines = wrap(text, round(p.w * 0.8), scale, thick)
        line_h = round(text_size("Ag", scale, thick)[1] * 1.35)
        outline = thick + 2 * max(1, thick)
        pad = outline
        width = max(text_size(line, scale, thick)[0] for line in lines) + 2 * pad
        height = line_h * len(lines) + 2 * pad
        rect = Rect(p.x + (p.w - width) // 2, p.y + round(0.05 * self.height), width, height)
        canvas = np.zeros((height, width, 3), np.uint8)
        mask = np.zeros((height, width), np.uint8)
        y = pad
        for line in lines:
            w, h = text_size(line, scale, thick)
            org = ((width - w) // 2, y + round(h * 0.75))
            cv2.putText(mask, line, org, FONT, scale, 255, outline, cv2.LINE_AA)
            draw_text(canvas, line, org, scale, thick, PRO_SUBTITLE)
            y += line_h
        np.copyto(mask, np.uint8(255), where=mask > 0)
        return rect, canvas, mask

    # ------------------------------------------------------------------ bars
    def _base(self, aspect: str, mode: str, pressed: bool) -> np.ndarray:
        key = (aspect, mode, pressed)
        if key not in self._bases:
            base = np.zeros((self.height, self.width, 3), np.uint8)
            base[: self.top] = PRO_BAR
            base[:, self.width - self.side :] = PRO_BAR
            cv2.line(base, (0, self.top - 1), (self.width - self.side, self.top - 1), PRO_INK, 1)
            self._pro_status_bar(base, aspect, mode)
            self._control_column(base, mode, pressed)
            self._bases[key] = base
        return self._bases[key]

    def _pro_status_bar(self, image: np.ndarray, aspect: str, mode: str) -> None:
        scale, thick = font_scale(self.height, 0.45)
        base_y = (self.top + text_size("0", scale, thick)[1]) // 2
        margin = round(0.02 * self.width)
        u = max(2, self.top // 5)
        cy = self.top // 2
        self._flash(image, margin, cy, u)
        self._timer(image, margin + 4 * u, cy, u)
        x = margin + 7 * u
        for chip in ("HDR", "RAW"):
            w, h = text_size(chip, scale, thick)
            cv2.rectangle(image, (x - 2, cy - h // 2 - 1), (x + w + 2, cy + h // 2 + 1), PRO_INK, 1)
            draw_text(image, chip, (x, base_y), scale, thick, PRO_INK, outline=False)
            x += w + 3 * u
        label = f"{mode} | {aspect}"
        lx = (self.width - self.side - text_size(label, scale, thick)[0]) // 2
        draw_text(image, label, (lx, base_y), scale, thick, PRO_ACCENT, outline=False)
        battery_x = self.width - self.side - margin - 6 * u
        cv2.rectangle(image, (battery_x, cy - u), (battery_x + 5 * u, cy + u), PRO_INK, 1)
        fill = battery_x + 1 + round((5 * u - 2) * self.battery)
        cv2.rectangle(image, (battery_x + 1, cy - u + 1), (fill, cy + u - 1), PRO_INK, -1)
        clock_w = text_size(self.clock, scale, thick)[0]
        draw_text(
            image, self.clock, (battery_x - 2 * u - clock_w, base_y), scale, thick, PRO_INK, False
        )

    @staticmethod
    def _flash(image: np.ndarray, x: int, cy: int, u: int) -> None:
        """A lightning-bolt icon ``2u`` wide starting at ``x``."""
        pts = np.array(
            [
                (x + u, cy - 2 * u),
                (x, cy + u // 4),
                (x + u, cy + u // 4),
                (x + u // 2, cy + 2 * u),
                (x + 2 * u, cy - u // 2),
                (x + u, cy - u // 2),
            ],
            np.int32,
        )
        cv2.fillPoly(image, [pts], PRO_INK, cv2.LINE_AA)

    @staticmethod
    def _timer(image: np.ndarray, x: int, cy: int, u: int) -> None:
        """A stopwatch icon (circle with a hand and a crown) with its left edge at ``x``."""
        r = round(1.3 * u)
        c = (x + r, cy + u // 4)
        cv2.circle(image, c, r, PRO_INK, 1, cv2.LINE_AA)
        cv2.line(image, c, (c[0] + r // 2, c[1] - r // 2), PRO_INK, 1, cv2.LINE_AA)
        cv2.line(image, (c[0] - u // 3, c[1] - r - 1), (c[0] + u // 3, c[1] - r - 1), PRO_INK, 1)

    def _control_column(self, image: np.ndarray, mode: str, pressed: bool) -> None:
        """Right column: stacked modes, ring shutter with a square centre, gallery, flip."""
        x0 = self.width - self.side
        cx = x0 + self.side // 2
        cy = self.height // 2
        r = round(self.side * 0.3)
        cv2.circle(image, (cx, cy), r, PRO_INK, max(2, r // 7), cv2.LINE_AA)
        half = round(r * (0.45 if pressed else 0.55))
        inner = (120, 120, 120) if pressed else (40, 40, 200)
        cv2.rectangle(image, (cx - half, cy - half), (cx + half, cy + half), inner, -1)
        scale, thick = font_scale(self.height, 0.42)
        step = round(text_size("Ag", scale, thick)[1] * 1.6)
        y = cy - r - round(0.04 * self.height) - step * (len(MODES) - 1)
        for label in MODES:
            w = text_size(label, scale, thick)[0]
            colour = PRO_ACCENT if label == mode else PRO_INK
            draw_text(image, label, (cx - w // 2, y), scale, thick, colour, outline=False)
            y += step
        side = round(r * 1.1)
        gy = cy + r + round(0.06 * self.height)
        cv2.rectangle(image, (cx - side // 2, gy), (cx + side // 2, gy + side), (96, 96, 96), -1)
        fy = min(self.height - side // 2 - 2, gy + side + round(0.08 * self.height))
        cv2.circle(image, (cx, fy), side // 2, PRO_INK, 1, cv2.LINE_AA)
        cv2.ellipse(image, (cx, fy), (side // 4, side // 4), 0, 200, 340, PRO_INK, 1, cv2.LINE_AA)


def make_chrome(
    style: UiStyle, width: int, height: int, clock: str, battery: float
) -> ViewfinderChrome:
    """The camera-app chrome of look ``style`` for a ``width x height`` video."""
    if style == "classic":
        return ViewfinderChrome(width, height, clock, battery)
    if style == "pro":
        return ProChrome(width, height, clock, battery)
    raise ValueError(f"unknown ui style {style!r} (known: {', '.join(UI_STYLES)})")
