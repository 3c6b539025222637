"""Camera-app looks: the pro chrome's layout and overlays, the style factory, mixed drawing."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.config import CorpusConfig
from aesformer.corpus.camera import ASPECTS
from aesformer.corpus.generate import plan_video
from aesformer.corpus.ui import BAR_COLOUR, Rect, ViewfinderChrome
from aesformer.corpus.ui_styles import (
    PRO_BAR,
    PRO_LEVEL_OK,
    PRO_SUBTITLE,
    UI_STYLES,
    ProChrome,
    make_chrome,
)

pytestmark = pytest.mark.unit
W, H = 640, 360
TINY = CorpusConfig(resolutions=[(320, 180)], fps=[10], events_per_video=(2, 2))


@pytest.fixture(scope="module")
def pro() -> ProChrome:
    chrome = make_chrome("pro", W, H, "9:41", 0.8)
    assert isinstance(chrome, ProChrome)
    return chrome


def _photo(rect: Rect, value: int = 90) -> np.ndarray:
    return np.full((rect.h, rect.w, 3), value, np.uint8)


def _inside(inner: Rect, outer: Rect) -> bool:
    return (
        outer.x <= inner.x
        and outer.y <= inner.y
        and inner.x + inner.w <= outer.x + outer.w
        and inner.y + inner.h <= outer.y + outer.h
    )


def test_factory_knows_every_style() -> None:
    assert type(make_chrome("classic", W, H, "9:41", 0.5)) is ViewfinderChrome
    for style in UI_STYLES:
        assert make_chrome(style, W, H, "9:41", 0.5).style == style
    with pytest.raises(ValueError, match="unknown ui style"):
        make_chrome("retro", W, H, "9:41", 0.5)  # type: ignore[arg-type]


def test_pro_layout_has_a_right_control_column(pro: ProChrome) -> None:
    classic = ViewfinderChrome(W, H, "9:41", 0.8)
    assert pro.preview.x + pro.preview.w == W - pro.side < W
    assert pro.preview.y + pro.preview.h == H  # no bottom bar
    assert pro.top < classic.top
    for aspect in ASPECTS:
        r = pro.photo_rect(aspect)
        assert _inside(r, pro.preview)
        frame = pro.frame(_photo(r), aspect, "PHOTO", None, False)
        assert frame.shape == (H, W, 3)
        # light bars (classic: dark) at the top and in the right column
        assert tuple(frame[1, W // 3]) == PRO_BAR
        assert tuple(frame[H - 2, W - 2]) == PRO_BAR
        assert tuple(frame[1, W // 3]) != BAR_COLOUR


def test_pro_frame_shows_the_photo_under_its_overlays(pro: ProChrome) -> None:
    r = pro.photo_rect("4:3")
    frame = pro.frame(_photo(r, 90), "4:3", "PHOTO", None, False)
    inner = frame[r.slices]
    share = float((inner == 90).all(axis=2).mean())
    assert 0.9 < share < 1.0  # crosshair, brackets, chips and level line cover a little
    # no rule-of-thirds grid: the third lines are untouched away from the centre overlays
    assert (inner[5 : r.h // 4, r.w // 3] == 90).all()


def test_level_line_follows_the_roll(pro: ProChrome) -> None:
    r = pro.photo_rect("16:9")
    level = pro.frame(_photo(r), "16:9", "PHOTO", None, False, level_deg=0.0)
    tilted = pro.frame(_photo(r), "16:9", "PHOTO", None, False, level_deg=8.0)

    def green(image: np.ndarray) -> int:
        b, g, red = (image[..., i].astype(int) for i in range(3))
        return int(((g - np.maximum(b, red)) > 60).sum())

    assert PRO_LEVEL_OK[1] - max(PRO_LEVEL_OK[0], PRO_LEVEL_OK[2]) > 60
    assert green(level) > r.w * 0.2  # a level horizon shows a green line
    assert green(tilted) == 0
    # positive roll: the line rises to the right of the centre
    right = tilted[r.slices][:, r.w // 2 + round(0.15 * r.w)]
    left = tilted[r.slices][:, r.w // 2 - round(0.15 * r.w)]
    rows_r = np.flatnonzero((right != 90).any(axis=1))
    rows_l = np.flatnonzero((left != 90).any(axis=1))
    near = r.h // 2 - r.h // 4, r.h // 2 + r.h // 4
    rows_r = rows_r[(rows_r > near[0]) & (rows_r < near[1])]
    rows_l = rows_l[(rows_l > near[0]) & (rows_l < near[1])]
    assert len(rows_r) and len(rows_l)
    assert rows_r.mean() < r.h / 2 < rows_l.mean()


def test_pro_subtitle_is_yellow_boxless_and_high(pro: ProChrome) -> None:
    r = pro.photo_rect("16:9")
    text = "step back two meters so her feet are in the frame"
    plain = pro.frame(_photo(r), "16:9", "PHOTO", None, False)
    with_sub = pro.frame(_photo(r), "16:9", "PHOTO", text, False)
    changed = np.any(plain != with_sub, axis=2)
    ys, _ = np.nonzero(changed)
    assert ys.max() < pro.preview.y + pro.preview.h // 3  # in the upper third
    yellow = np.all(with_sub == PRO_SUBTITLE, axis=2)
    assert yellow.sum() > 100
    # no darkened box: most of the subtitle rectangle keeps the photo's value
    rect = pro._subtitles[text][0]
    assert float((with_sub[rect.slices] == 90).all(axis=2).mean()) > 0.4


def test_pro_shutter_press_and_modes_change_the_column(pro: ProChrome) -> None:
    r = pro.photo_rect("1:1")
    a = pro.frame(_photo(r), "1:1", "PHOTO", None, False)
    b = pro.frame(_photo(r), "1:1", "PHOTO", None, True)
    c = pro.frame(_photo(r), "1:1", "PORTRAIT", None, False)
    column = np.s_[:, W - pro.side :]
    assert not np.array_equal(a[column], b[column])
    assert not np.array_equal(a[column], c[column])


def test_ui_style_knob_sets_the_chrome() -> None:
    classic = plan_video(3, TINY)
    pro = plan_video(3, TINY.model_copy(update={"ui_style": "pro"}))
    assert type(classic.chrome) is ViewfinderChrome
    assert isinstance(pro.chrome, ProChrome)
    # the look changes nothing else about the video
    assert pro.timeline == classic.timeline and pro.events == classic.events
    assert (pro.chrome.clock, pro.chrome.battery) == (classic.chrome.clock, classic.chrome.battery)


def test_mixed_draws_each_style_deterministically() -> None:
    mixed = TINY.model_copy(update={"ui_style": "mixed"})
    styles = [plan_video(seed, mixed).chrome.style for seed in range(12)]
    assert set(styles) == set(UI_STYLES)
    assert styles == [plan_video(seed, mixed).chrome.style for seed in range(12)]
    assert plan_video(5, mixed).events == plan_video(5, TINY).events
