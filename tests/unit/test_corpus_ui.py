"""Camera-app chrome: layout, bars, grid, subtitles, letterboxing."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.corpus.camera import ASPECTS
from aesformer.corpus.ui import (
    BAR_COLOUR,
    Rect,
    ViewfinderChrome,
    font_scale,
    letterbox,
    text_size,
    wrap,
)

pytestmark = pytest.mark.unit
W, H = 640, 360


@pytest.fixture(scope="module")
def chrome() -> ViewfinderChrome:
    return ViewfinderChrome(W, H, "9:41", 0.8)


def _photo(rect: Rect, value: int = 90) -> np.ndarray:
    return np.full((rect.h, rect.w, 3), value, np.uint8)


@pytest.mark.parametrize("aspect", list(ASPECTS))
def test_photo_rect_fits_the_preview_with_the_aspect(chrome: ViewfinderChrome, aspect: str) -> None:
    r, p = chrome.photo_rect(aspect), chrome.preview
    assert p.y == chrome.top and p.y + p.h == H - chrome.bottom
    assert p.x <= r.x and r.x + r.w <= p.x + p.w and p.y <= r.y and r.y + r.h <= p.y + p.h
    assert abs(r.w / r.h - ASPECTS[aspect]) < 2.5 / r.h
    assert r.w == p.w or r.h == p.h


def test_frame_has_bars_photo_and_grid(chrome: ViewfinderChrome) -> None:
    r = chrome.photo_rect("4:3")
    frame = chrome.frame(_photo(r), "4:3", "PHOTO", None, False)
    assert frame.shape == (H, W, 3)
    assert (np.median(frame[: chrome.top].reshape(-1, 3), axis=0) == BAR_COLOUR).all()
    assert (np.median(frame[H - chrome.bottom :].reshape(-1, 3), axis=0) == BAR_COLOUR).all()
    # the shutter button is white, the photo shows through away from the grid lines
    assert frame[H - chrome.bottom // 2, W // 2].min() > 200
    assert (frame[r.y + 5, r.x + 5] == 90).all()
    # rule-of-thirds lines: half-transparent white
    x = r.x + r.w // 3
    assert frame[r.y + r.h // 2, x, 0] == pytest.approx(90 * 0.5 + 127.5, abs=1)
    assert (frame[r.y + r.h // 2, x + 3] == 90).all()
    # outside the photo, the preview is black (pillarbox)
    assert (frame[chrome.preview.y + 5, 2] == 0).all()


def test_subtitle_is_burned_in_inside_the_preview(chrome: ViewfinderChrome) -> None:
    r = chrome.photo_rect("16:9")
    plain = chrome.frame(_photo(r, 200), "16:9", "PHOTO", None, False)
    text = "step back two meters and lower the camera to chest height so she fits"
    with_sub = chrome.frame(_photo(r, 200), "16:9", "PHOTO", text, False)
    diff = np.abs(with_sub.astype(int) - plain.astype(int)).max(axis=2) > 0
    ys, xs = np.nonzero(diff)
    assert ys.min() >= chrome.preview.y and ys.max() < chrome.preview.y + chrome.preview.h
    assert ys.min() > H // 2  # in the lower part of the preview
    region = with_sub[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert (region.max(axis=2) > 230).sum() > 200  # white glyphs
    assert (region.max(axis=2) < 80).sum() > 200  # darkened box and outline


def test_mode_and_shutter_state_change_the_bars(chrome: ViewfinderChrome) -> None:
    r = chrome.photo_rect("1:1")
    a = chrome.frame(_photo(r), "1:1", "PHOTO", None, False)
    b = chrome.frame(_photo(r), "1:1", "PORTRAIT", None, False)
    c = chrome.frame(_photo(r), "1:1", "PHOTO", None, True)
    assert (a[: chrome.top] != b[: chrome.top]).any()
    assert (a[H - chrome.bottom :] != c[H - chrome.bottom :]).any()


def test_wrap_fits_the_width() -> None:
    scale, thick = font_scale(360)
    text = "move her to the right third of the frame and tilt down a little to cut the empty space"
    lines = wrap(text, 300, scale, thick)
    assert len(lines) > 1 and " ".join(lines) == text
    assert all(text_size(line, scale, thick)[0] <= 300 for line in lines)


def test_letterbox_centres_without_resampling_when_it_fits() -> None:
    photo = np.random.default_rng(0).integers(0, 255, (360, 270, 3), dtype=np.uint8)
    frame = letterbox(photo, (W, H))
    x0 = (W - 270) // 2
    assert (frame[:, x0 : x0 + 270] == photo).all()
    assert frame[:, :x0].max() == 0 and frame[:, x0 + 270 :].max() == 0
    big = letterbox(np.full((720, 720, 3), 50, np.uint8), (W, H))
    assert (big[:, 140:500] == 50).all() and big[:, :140].max() == 0
