"""Distractor segments: title card, Ken Burns b-roll, before/after comparison."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.corpus.distractors import BROLL_SOURCES, BRoll, before_after, title_card

pytestmark = pytest.mark.unit
SIZE = (640, 360)


def test_title_card_has_large_text() -> None:
    image, title = title_card(np.random.default_rng(1), SIZE, 3)
    assert image.shape == (360, 640, 3)
    assert title == title.upper() and title
    bright = image.min(axis=2) > 220
    assert bright.sum() > 2000
    assert title_card(np.random.default_rng(1), SIZE, 3)[1] == title


def test_before_after_shows_both_photos_side_by_side() -> None:
    poor = np.full((360, 270, 3), (0, 0, 255), np.uint8)
    good = np.full((360, 480, 3), (0, 255, 0), np.uint8)
    image = before_after(poor, good, SIZE)
    left, right = image[:, :320], image[:, 320:]
    is_red = (left == (0, 0, 255)).all(axis=2)
    is_green = (right == (0, 255, 0)).all(axis=2)
    assert is_red.sum() > 10_000 and is_green.sum() > 10_000
    assert (
        not (left == (0, 255, 0)).all(axis=2).any() and not (right == (0, 0, 255)).all(axis=2).any()
    )
    assert (image[:40].min(axis=2) > 220).sum() > 100  # the labels


def test_broll_pans_and_zooms_deterministically() -> None:
    shot = BRoll.draw(np.random.default_rng(3), SIZE, 50)
    assert shot.source in BROLL_SOURCES and shot.zoom[1] > shot.zoom[0]
    assert shot == BRoll.draw(np.random.default_rng(3), SIZE, 50)
    first, last = shot.frame(0), shot.frame(49)
    assert first.shape == (360, 640, 3) and first.std() > 10
    assert np.abs(first.astype(int) - last.astype(int)).mean() > 3
    assert (shot.frame(10) == shot.frame(10)).all()
