"""World backdrop: deterministic spec, resolution-independent rendering, background blur."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from aesformer.corpus import scene

pytestmark = pytest.mark.unit


def _spec(seed: int = 1) -> scene.SceneSpec:
    return scene.draw_scene(np.random.default_rng(seed))


def test_world_is_larger_than_the_video() -> None:
    for h in (180, 360, 720):
        ww, wh = scene.world_size(h)
        assert wh > 2 * h and ww == 2 * wh


def test_draw_scene_is_deterministic_and_varied() -> None:
    assert _spec(3) == _spec(3)
    specs = [_spec(s) for s in range(12)]
    assert len({s.palette for s in specs}) > 1 and len({s.ground for s in specs}) > 1
    for s in specs:
        assert 0.4 < s.horizon < 0.55
        assert all(t.base >= s.horizon for t in s.trees)


def test_background_has_sky_above_ground_below() -> None:
    spec = _spec(5)
    image = scene.render_background(spec, (800, 400))
    assert image.shape == (400, 800, 3) and image.dtype == np.uint8
    hy = round(spec.horizon * 400)
    sky_top = scene.PALETTES[spec.palette][0]
    assert np.abs(image[0, 400].astype(int) - sky_top).max() <= 3
    ground = image[hy + 20 :].reshape(-1, 3).mean(axis=0)
    expected = np.asarray(scene.GROUNDS[spec.ground], float)
    assert np.abs(ground - expected).max() < 45


def test_same_spec_renders_the_same_scene_at_any_size() -> None:
    spec = _spec(7)
    big = scene.render_background(spec, (1600, 800))
    small = scene.render_background(spec, (400, 200))
    down = cv2.resize(big, (400, 200), interpolation=cv2.INTER_AREA)
    assert np.abs(down.astype(int) - small.astype(int)).mean() < 12
    assert (scene.render_background(spec, (400, 200)) == small).all()


def test_ground_texture_is_real_and_not_flat() -> None:
    spec = _spec(2)
    image = scene.render_background(spec, (800, 400))
    near = image[-60:, 100:300].astype(float)
    assert near.std() > 4


def test_blur_background_smooths_and_keeps_brightness() -> None:
    image = scene.render_background(_spec(4), (800, 400))
    assert scene.blur_background(image, 0) is image
    for sigma in (1.5, 12.0):
        blurred = scene.blur_background(image, sigma)
        assert blurred.shape == image.shape
        assert abs(float(blurred.mean()) - float(image.mean())) < 2
        sharp = cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        soft = cv2.Laplacian(cv2.cvtColor(blurred, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
        assert soft < 0.5 * sharp


def test_vertical_gradient_runs_from_top_to_bottom() -> None:
    g = scene.vertical_gradient(5, 11, (0, 0, 0), (200, 100, 50))
    assert g.shape == (11, 5, 3) and g.flags.c_contiguous
    assert (g[0] == 0).all() and (g[-1] == (200, 100, 50)).all() and (g[5] == (100, 50, 25)).all()
