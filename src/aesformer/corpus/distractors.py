"""Distractor segments: content a tutorial has besides shooting events.

None of them is an event in the ground truth, but each looks like something a naive miner
could take for one: a title card (text, no photo), a presenter / b-roll shot (a different real
photo with a slow pan and zoom, i.e. moving full-screen imagery) and a "before vs after"
comparison (the poor and good photos of an earlier event side by side, with labels).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from skimage import data as skdata

from aesformer.corpus.scene import vertical_gradient
from aesformer.corpus.ui import Rect, draw_centred_lines, fit_image, font_scale, paste_centred, wrap

BROLL_SOURCES = ("camera", "coffee", "rocket", "chelsea")
"""scikit-image photos used as b-roll (``camera`` is a photographer: the presenter shot)."""
TITLES = (
    "{n} tips for better phone portraits",
    "shoot better portraits: {n} quick fixes",
    "portrait photography 101",
    "{n} composition mistakes to avoid",
)
TITLE_BACKGROUNDS = (
    ((60, 30, 20), (140, 80, 40)),
    ((30, 30, 30), (90, 60, 110)),
    ((20, 60, 40), (60, 140, 160)),
)
BEFORE_AFTER_BACKGROUND = (24, 24, 24)


def title_card(
    rng: np.random.Generator, size: tuple[int, int], n_events: int
) -> tuple[np.ndarray, str]:
    """A title card (gradient background, big title, small episode line) and its title text."""
    w, h = size
    title = str(rng.choice(TITLES)).format(n=n_events).upper()
    top, bottom = TITLE_BACKGROUNDS[int(rng.integers(len(TITLE_BACKGROUNDS)))]
    image = vertical_gradient(w, h, top, bottom)
    scale, thick = font_scale(h, 1.7)
    lines = wrap(title, round(0.84 * w), scale, thick)
    y = draw_centred_lines(image, lines, w // 2, round(0.3 * h), scale, thick)
    small, small_thick = font_scale(h, 0.8)
    draw_centred_lines(
        image,
        [f"EPISODE {int(rng.integers(1, 60))}"],
        w // 2,
        y + round(0.05 * h),
        small,
        small_thick,
        (0, 204, 255),
    )
    return image, title


def before_after(poor: np.ndarray, good: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The poor and good photos side by side under "BEFORE" / "AFTER" labels."""
    w, h = size
    image = np.full((h, w, 3), BEFORE_AFTER_BACKGROUND, np.uint8)
    label_h, margin = round(0.16 * h), round(0.03 * w)
    scale, thick = font_scale(h, 1.0)
    for i, (label, photo) in enumerate((("BEFORE", poor), ("AFTER", good))):
        x0 = i * w // 2
        draw_centred_lines(image, [label], x0 + w // 4, round(0.04 * h), scale, thick)
        box = Rect(x0 + margin, label_h, w // 2 - 2 * margin, h - label_h - margin)
        paste_centred(image, fit_image(photo, box.w, box.h), box)
    return image


@cache
def _broll_source(name: str) -> np.ndarray:
    image = getattr(skdata, name)()
    code = cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(image, code)


@dataclass(frozen=True)
class BRoll:
    """A real photo filling the frame with a slow Ken Burns pan/zoom over ``n_frames`` frames.

    ``zoom`` (start, end) is the magnification of the cover crop; ``pan`` (start, end) the
    horizontal position of the crop centre as a fraction of the free range (0 = left).
    """

    source: str
    size: tuple[int, int]
    n_frames: int
    zoom: tuple[float, float]
    pan: tuple[float, float]

    @staticmethod
    def draw(rng: np.random.Generator, size: tuple[int, int], n_frames: int) -> BRoll:
        z0 = round(float(rng.uniform(1.0, 1.1)), 3)
        p0 = round(float(rng.uniform(0.2, 0.8)), 3)
        return BRoll(
            source=str(rng.choice(BROLL_SOURCES)),
            size=size,
            n_frames=n_frames,
            zoom=(z0, round(z0 + float(rng.uniform(0.08, 0.2)), 3)),
            pan=(p0, round(float(np.clip(p0 + rng.uniform(-0.3, 0.3), 0, 1)), 3)),
        )

    def frame(self, k: int) -> np.ndarray:
        """Frame ``k`` of the shot."""
        u = k / max(1, self.n_frames - 1)
        return ken_burns(_broll_source(self.source), self.size, self.zoom, self.pan, u)


def ken_burns(
    src: np.ndarray,
    size: tuple[int, int],
    zoom: tuple[float, float],
    pan: tuple[float, float],
    u: float,
) -> np.ndarray:
    """``src`` covering a ``size = (w, h)`` frame at progress ``u`` (0..1) of a pan/zoom.

    ``zoom`` (start, end) magnifies the cover crop; ``pan`` (start, end) is the horizontal
    position of the crop centre as a fraction of the free range (0 = left); vertically centred.
    """
    sh, sw = src.shape[:2]
    w, h = size
    z = zoom[0] + (zoom[1] - zoom[0]) * u
    scale = max(w / sw, h / sh) * z  # output pixels per source pixel
    crop_w = w / scale
    p = pan[0] + (pan[1] - pan[0]) * u
    cx = crop_w / 2 + p * (sw - crop_w)
    cy = sh / 2
    m = np.array([[scale, 0.0, w / 2 - scale * cx], [0.0, scale, h / 2 - scale * cy]])
    return cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
