"""Validation edits: the configured size is honoured end to end; grids and scores."""

from __future__ import annotations

import pytest
from diffusers.pipelines.qwenimage import pipeline_qwenimage_edit_plus as plus
from PIL import Image, ImageOps

from aesformer.config import EditorConfig
from aesformer.editor.cache import build_cache, load_shard, model_id
from aesformer.editor.data import fit_area
from aesformer.editor.stage import load_pipeline
from aesformer.editor.validate import CELL, edit, ssim, validate
from tests.editor_factory import make_release, photo, tiny_editor_base

pytestmark = pytest.mark.unit

CFG = EditorConfig(val_inference_steps=2)


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline(tiny_editor_base(), None, CFG)


def test_edit_honours_the_configured_sizes(pipe, monkeypatch) -> None:
    seen = []
    encode = pipe.vae.encode
    monkeypatch.setattr(
        pipe.vae, "encode", lambda x, *a, **k: seen.append(tuple(x.shape)) or encode(x, *a, **k)
    )
    texts = []
    processor = pipe.processor
    monkeypatch.setattr(
        pipe,
        "processor",
        lambda *a, **k: texts.append([im.size for im in k["images"]]) or processor(*a, **k),
    )
    cfg = CFG.model_copy(update={"control_area": 96 * 96, "text_image_area": 64 * 64})
    poor = photo((320, 240), 0)  # far bigger than the configured areas
    out = edit(pipe, poor, "raise the camera", (96, 32), cfg)
    assert out.size == (96, 32)
    w, h = fit_area(320, 240, 96 * 96)
    assert seen == [
        (1, 3, 1, h, w)
    ]  # the control image reached the VAE at control_area, not ~1024²
    assert texts == [[fit_area(320, 240, 64 * 64)]]  # and the text encoder at text_image_area
    assert (plus.VAE_IMAGE_SIZE, plus.CONDITION_IMAGE_SIZE) == (1024 * 1024, 384 * 384)  # restored


def test_validate_scores_the_edits_and_draws_the_grid(pipe, tmp_path) -> None:
    release = make_release(tmp_path / "release", train=1, val=2)
    result = build_cache(pipe, CFG, release, tmp_path / "cache", model_id(tiny_editor_base(), None))
    val = [load_shard(p) for p in result.shards["val"]]
    report = validate(pipe, val, release, CFG)
    assert [s["size"] for s in report.samples] == [p.meta["target_size"] for p in val]
    assert report.samples[0]["size"] != report.samples[1]["size"]  # two buckets, each honoured
    assert -1 <= report.metrics["val_ssim"] <= 1 and report.metrics["val_edited"] == 2
    assert report.grid.width == 3 * CELL and report.grid.height > 2 * CELL


def test_ssim_is_one_for_identical_images_and_lower_otherwise() -> None:
    a = photo((64, 64), 1)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, Image.new("RGB", (64, 64), (128, 128, 128))) < 0.9
    assert ssim(a, ImageOps.invert(a)) < 0.3
