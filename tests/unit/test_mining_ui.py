"""Camera-UI detection from content: shutter, chrome bars, preview crop."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.corpus import letterbox, make_event
from aesformer.corpus.ui import ViewfinderChrome
from aesformer.mining.ui import Box, content_box, detect_ui, find_shutter

pytestmark = pytest.mark.unit


def viewfinder(size=(640, 360), aspect="1:1", subtitle="step back"):
    ev = make_event(seed=1, size=size)
    chrome = ViewfinderChrome(size[0], size[1], "10:19", 0.7)
    r = chrome.photo_rect(aspect)
    photo = cv2.resize(ev.photos.poor, (r.w, r.h), interpolation=cv2.INTER_AREA)
    return chrome.frame(photo, aspect, "PHOTO", subtitle, False), r, ev


@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (320, 180)])
def test_viewfinder_detected_and_photo_cropped(size):
    frame, r, _ = viewfinder(size)
    ui = detect_ui(frame)
    assert ui is not None
    inner = content_box(ui.preview.crop(frame))
    box = Box(inner.x0, inner.y0 + ui.preview.y0, inner.x1, inner.y1 + ui.preview.y0)
    assert abs(box.x0 - r.x) <= 2 and abs(box.x1 - (r.x + r.w)) <= 2
    assert abs(box.y0 - r.y) <= 2 and abs(box.y1 - (r.y + r.h)) <= 2


def test_finished_photo_and_plain_frames_are_not_viewfinders():
    ev = make_event(seed=2, size=(640, 360))
    assert detect_ui(letterbox(ev.photos.good, (640, 360))) is None
    assert detect_ui(np.full((360, 640, 3), 30, np.uint8)) is None
    # a bright disc on a busy photo is not a shutter on a chrome bar
    photo = letterbox(ev.photos.poor, (640, 360))
    cv2.circle(photo, (320, 320), 25, (255, 255, 255), -1)
    assert detect_ui(photo) is None


def test_shutter_found_on_uniform_bar():
    img = np.full((200, 400), 30, np.uint8)
    cv2.circle(img, (200, 170), 20, 255, -1)
    s = find_shutter(img)
    assert s is not None and abs(s.cx - 200) < 2 and abs(s.r - 20) < 2 and s.bar_level == 30


def test_content_box_strips_pillars():
    img = np.zeros((100, 200, 3), np.uint8)
    img[:, 50:150] = 120
    img[80:90, 10:190] = 255  # a subtitle running over the pillars
    assert content_box(img) == Box(50, 0, 150, 100)


def test_bar_edge_exact_when_bar_extends_past_the_shutter():
    """The preview ends where the bar begins, not 1.3 radii above the shutter's centre."""
    rng = np.random.default_rng(0)
    frame = rng.integers(90, 250, (360, 640, 3), dtype=np.uint8)
    frame[:29] = 29  # status bar
    frame[300:] = 29  # bottom chrome bar: 60 rows, the shutter's inner edge 5 rows below
    cv2.circle(frame, (320, 329), 24, (255, 255, 255), -1)
    ui = detect_ui(frame)
    assert ui is not None
    assert ui.preview.y1 == 300 and ui.preview.y0 == 29
