"""Subjects: posable drawn figure and real-photo cut-out sprites."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.corpus.subject import (
    NEUTRAL_POSE,
    POSES,
    FigureLook,
    SubjectSpec,
    draw_subject,
    render_sprite,
)

pytestmark = pytest.mark.unit

LOOK = FigureLook(
    skin=(150, 180, 224),
    hair=(20, 24, 30),
    shirt=(40, 40, 200),
    trousers=(90, 60, 30),
    long_hair=True,
)
FIGURE = SubjectSpec("figure", "drawn", "her", 1.7, LOOK)
CUTOUT = SubjectSpec("photo", "astronaut", "her", 0.9, None)


def test_draw_subject_mixes_figures_and_cutouts() -> None:
    subjects = [draw_subject(np.random.default_rng(s)) for s in range(40)]
    kinds = {s.kind for s in subjects}
    assert kinds == {"figure", "photo"}
    assert all(s.posable == (s.kind == "figure") for s in subjects)
    assert all((s.look is None) == (s.kind == "photo") for s in subjects)


@pytest.mark.parametrize("spec", [FIGURE, CUTOUT], ids=["figure", "cutout"])
def test_sprite_is_premultiplied_and_anchor_has_the_requested_height(spec: SubjectSpec) -> None:
    sprite = render_sprite(spec, POSES[NEUTRAL_POSE] if spec.posable else None, 300)
    a, c = sprite.alpha, sprite.colour
    assert a.min() >= 0 and a.max() <= 1 and (a == 1).any() and (a == 0).any()
    assert (c <= a[..., None] * 255 + 1).all()
    x0, y0, x1, y1 = sprite.anchor
    assert y1 - y0 == pytest.approx(300, abs=1)
    assert 0 <= x0 < x1 <= a.shape[1] and 0 <= y0 < y1 <= a.shape[0] + 1
    rows = np.nonzero(a.max(axis=1) > 0.5)[0]
    assert rows.min() == pytest.approx(y0, abs=3) and rows.max() == pytest.approx(y1, abs=3)


def test_raising_the_right_arm_adds_coverage_above_the_head_on_the_image_left() -> None:
    down = render_sprite(FIGURE, POSES["arms_down"], 400)
    up = render_sprite(FIGURE, POSES["right_arm_raised"], 400)
    assert up.anchor == down.anchor
    head_top = round(up.anchor[1])
    mid = up.alpha.shape[1] // 2
    assert up.alpha[: head_top - 5, :mid].sum() > 100
    assert down.alpha[: head_top - 5].sum() == 0
    assert up.alpha[: head_top - 5, mid:].sum() == 0


def test_a_figure_needs_a_pose() -> None:
    with pytest.raises(ValueError, match="pose"):
        render_sprite(FIGURE, None, 100)


def test_paste_composites_and_clips() -> None:
    sprite = render_sprite(FIGURE, POSES["hands_on_hips"], 120)
    image = np.zeros((200, 200, 3), np.uint8)
    sprite.paste(image, (-20, 100))
    assert image[:100].max() == 0 and image[100:].max() > 0
    shirt = (image == np.array(LOOK.shirt, np.uint8)).all(axis=2)
    assert shirt.sum() > 50
