"""The `pro` camera-app look (light side column, ring shutter, overlays over the preview)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.config import CorpusConfig, MineConfig
from aesformer.corpus import generate_video
from aesformer.mining.decode import downscale
from aesformer.mining.overlays import static_overlay_mask
from aesformer.mining.ui import detect_ui, find_shutter
from aesformer.mining.video import mine_video

pytestmark = pytest.mark.unit
PRO = CorpusConfig(
    resolutions=[(640, 360)],
    fps=[25],
    events_per_video=(2, 2),
    viewfinder_seconds=(3.0, 3.0),
    good_hold_seconds=(1.5, 1.5),
    transition_seconds=(0.4, 0.4),
    distractors=False,
    ui_style="pro",
)


def test_ring_shutter_on_light_side_bar():
    img = np.full((360, 640, 3), 120, np.uint8)
    img[:, 560:] = 220
    img[:20] = 220
    cv2.circle(img, (600, 180), 27, (40, 40, 40), 4)
    cv2.rectangle(img, (590, 170), (610, 190), (0, 0, 200), -1)
    s = find_shutter(img)
    assert s is not None and abs(s.cx - 600) < 2 and abs(s.r - 28) < 3
    ui = detect_ui(img)
    assert ui is not None
    assert ui.preview.x1 <= 560 and ui.preview.y0 >= 18 and ui.preview.x0 == 0


def test_static_overlays_found_where_content_moves():
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (200, 700), np.uint8), (0, 0), 4)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    frames = []
    for i in range(8):
        f = np.ascontiguousarray(base[:, i * 40 : i * 40 + 320])
        cv2.line(f, (150, 100), (170, 100), 255, 1)  # a crosshair, fixed in frame coordinates
        cv2.line(f, (160, 90), (160, 110), 255, 1)
        frames.append(f)
    mask = static_overlay_mask(frames)
    assert mask is not None
    assert mask[100, 152:169].mean() > 0.8 and mask[92:109, 160].mean() > 0.8
    assert mask.mean() < 0.02


def test_pro_video_events_mined_and_overlays_removed(tmp_path):
    truth = generate_video(tmp_path / "c", "tut_0000", seed=3, cfg=PRO)
    video = tmp_path / "c" / "videos" / "tut_0000.mp4"
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, truth.events[0].poor_frame)
    frame = cap.read()[1]
    assert detect_ui(frame) is not None and detect_ui(downscale(frame, (320, 180))) is not None
    result = mine_video(MineConfig(), video, "tut_0000", "0" * 64, tmp_path / "out")
    assert len(result.pairs) == len(truth.events) == 2
    for pair, event in zip(result.pairs, truth.events, strict=True):
        vf = event.viewfinder
        assert vf.start_s <= pair.poor_time_s < vf.end_s
        assert pair.checks["overlays_removed"]
        clean = cv2.imread(str(tmp_path / "out" / pair.poor_image), cv2.IMREAD_GRAYSCALE)
        ref = cv2.imread(str(tmp_path / "c" / event.poor_clean_image), cv2.IMREAD_GRAYSCALE)
        clean = cv2.resize(clean, ref.shape[::-1], interpolation=cv2.INTER_AREA)
        # the centre crosshair and focus brackets are gone: the centre matches the clean photo
        h, w = ref.shape
        centre = (slice(h // 2 - h // 8, h // 2 + h // 8), slice(w // 2 - w // 8, w // 2 + w // 8))
        err = np.abs(clean[centre].astype(int) - ref[centre].astype(int)).mean()
        assert err < 12
