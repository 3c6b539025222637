"""Overlay removal: subtitle unshading, grid lines, OCR-checked inpainting with retries."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity

from aesformer.corpus import make_event
from aesformer.corpus.ui import ViewfinderChrome
from aesformer.mining.inpaint import get_inpainter
from aesformer.mining.ocr import TextLine, get_reader
from aesformer.mining.overlays import (
    clean_viewfinder,
    grid_mask,
    line_clusters,
    unshade_subtitle,
)

pytestmark = pytest.mark.unit


def ssim(a, b):
    a = cv2.resize(a, b.shape[1::-1], interpolation=cv2.INTER_AREA)
    g = cv2.COLOR_BGR2GRAY
    return structural_similarity(cv2.cvtColor(a, g), cv2.cvtColor(b, g), data_range=255)


def test_viewfinder_cleaned_close_to_clean_photo():
    ev = make_event(seed=4, size=(640, 360))
    chrome = ViewfinderChrome(640, 360, "10:19", 0.5)
    aspect = ev.plan.poor.camera.aspect
    r = chrome.photo_rect(aspect)
    photo = cv2.resize(ev.photos.poor, (r.w, r.h), interpolation=cv2.INTER_AREA)
    frame = chrome.frame(
        photo, aspect, "PHOTO", "step back two meters so her feet are in it", False
    )
    res = clean_viewfinder(
        frame, get_reader("rapidocr", 960), get_inpainter("telea", 3), 2, 0.25, 0.8
    )
    assert res.reason is None and res.residue == 0
    assert res.lines and "step back" in " ".join(ln.text for ln in res.lines)
    assert res.shade_gain > 2.0  # the darkened subtitle box was found and brightened back
    assert ssim(res.clean, ev.photos.poor) > ssim(res.raw, ev.photos.poor) + 0.03
    assert ssim(res.clean, ev.photos.poor) > 0.85


def test_not_a_viewfinder_is_rejected():
    frame = np.full((360, 640, 3), 90, np.uint8)
    res = clean_viewfinder(
        frame, get_reader("rapidocr", 960), get_inpainter("telea", 3), 0, 0.25, 0.8
    )
    assert res.reason == "no_camera_ui"


class StubbornReader:
    """Always sees text: the QC loop must give up with text_residue after the retries."""

    def __init__(self):
        self.calls = 0

    def read(self, image):
        self.calls += 1
        h, w = image.shape[:2]  # in the middle of what it reads: over the photo
        return [TextLine((w // 4, h // 2 - 6, w // 2, h // 2 + 6), "ghost", 0.99)]


def test_residue_after_retries_rejected():
    frame, *_ = _vf()
    reader = StubbornReader()
    res = clean_viewfinder(frame, reader, get_inpainter("telea", 3), 2, 0.25, 0.8)
    assert res.reason == "text_residue" and res.attempts == 3
    assert reader.calls == 4  # one read of the frame, one QC read per attempt


def _vf():
    ev = make_event(seed=5, size=(640, 360))
    chrome = ViewfinderChrome(640, 360, "10:19", 0.5)
    r = chrome.photo_rect("16:9")
    photo = cv2.resize(ev.photos.poor, (r.w, r.h), interpolation=cv2.INTER_AREA)
    return chrome.frame(photo, "16:9", "PHOTO", None, False), r


def test_grid_mask_finds_thin_bright_lines_only():
    rng = np.random.default_rng(0)
    img = rng.integers(60, 120, (90, 120, 3)).astype(np.uint8)
    img = cv2.GaussianBlur(img, (5, 5), 0)
    img[:, 40] = img[:, 40] // 2 + 127
    img[30, :] = img[30, :] // 2 + 127
    mask = grid_mask(img)
    assert mask[:, 40].all() and mask[30, :].all()
    assert mask[:, 80].sum() == 3 and mask[60, :].sum() == 3  # only where the lines cross


def test_unshade_restores_darkened_box():
    img = np.full((100, 100, 3), 150, np.uint8)
    img[60:90, 10:90] = (img[60:90, 10:90] * 0.35).astype(np.uint8)
    out, gain = unshade_subtitle(img, [(30, 68, 70, 82)])
    assert 2.5 < gain < 3.2
    assert abs(int(out[75, 50, 0]) - 150) <= 6 and out[20, 50, 0] == 150


def test_line_clusters_groups_wrapped_lines():
    boxes = [(10, 50, 90, 60), (15, 62, 85, 72), (10, 5, 40, 15)]
    assert [len(c) for c in line_clusters(boxes)] == [1, 2]


def test_grid_mask_finds_faint_line_washed_out_over_a_bright_background():
    rng = np.random.default_rng(1)
    img = np.full((120, 160, 3), 250, np.uint8)  # overexposed sky: the line is invisible there
    ground = rng.integers(60, 120, (30, 160, 3)).astype(np.uint8)
    img[90:, :] = cv2.GaussianBlur(ground, (5, 5), 0)  # darker ground, where it shows
    img[90:, 50] = 200
    img[90:, 100:130:3] = 200  # fine stripes: texture (a broad run of responses), not a line
    mask = grid_mask(img)
    assert mask[:, 50].all()
    assert not mask[:, 30].any() and not mask[:, 100:131].all(axis=0).any()


class WeakJunkReader:
    """Reads a long subtitle at a low score on the frame, then weak junk on the first QC."""

    def __init__(self, always=False):
        self.calls, self.always = 0, always

    def read(self, image):
        self.calls += 1
        h, w = image.shape[:2]
        if self.calls == 1:
            return [
                TextLine((w // 4, h // 2 - 6, 3 * w // 4, h // 2 + 6), "a long subtitle line", 0.7),
                TextLine((10, 10, 30, 20), "xy", 0.7),  # short and unsure: not removed
            ]
        if self.calls == 2 or self.always:
            return [TextLine((0, 0, w, h), "1", 0.55)]  # a junk read over the whole photo
        return []


def test_long_unsure_subtitle_removed_and_weak_read_retried_tighter():
    frame, *_ = _vf()
    reader = WeakJunkReader()
    res = clean_viewfinder(frame, reader, get_inpainter("telea", 3), 2, 0.25, 0.8)
    assert [ln.text for ln in res.lines] == ["a long subtitle line"]
    assert res.reason is None and res.attempts == 2 and res.residue == 0


def test_only_weak_reads_left_keeps_the_pair():
    frame, *_ = _vf()
    reader = WeakJunkReader(always=True)
    res = clean_viewfinder(frame, reader, get_inpainter("telea", 3), 2, 0.25, 0.8)
    assert res.reason is None and res.attempts == 3 and res.clean is not None
