"""Validation: the edit pipeline with the LoRA on a few val pairs, at the configured size.

:func:`edit` is the one inference call of the package (validation, the registry, the CLI): it
runs ``QwenImageEditPlusPipeline`` inside :func:`aesformer.zoo.edit_plus_resolution` with the
configured control / text-image areas and an explicit ``height``/``width``, so the pipeline's
internal ~1024² resizing never happens and training and inference see the same sizes.

:func:`validate` edits the first ``val_pairs`` val pairs, scores each output against the
target (SSIM on grey levels, and mean absolute error) and returns a grid: one row per pair,
columns *before* (the poor photo) | *after* (the edit) | *target* (the good photo), the plan
under the row. The stage logs it to MLflow as ``editor/val/step-<step>.png``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from aesformer.config import EditorConfig
from aesformer.editor.cache import CachedPair, open_rgb
from aesformer.zoo import edit_plus_resolution

#: Pixels of a grid cell's long side (cells are upscaled from tiny images for legibility).
CELL = 192
PLAN_LINES = 8
LINE_HEIGHT = 12


def edit(
    pipe: Any,
    image: Image.Image,
    plan: str,
    size: tuple[int, int],
    cfg: EditorConfig,
    *,
    steps: int | None = None,
    true_cfg_scale: float | None = None,
    seed: int | None = None,
) -> Image.Image:
    """Edit ``image`` following ``plan`` into an image of ``size`` (width, height)."""
    width, height = size
    scale = cfg.val_true_cfg_scale if true_cfg_scale is None else true_cfg_scale
    generator = torch.Generator().manual_seed(cfg.val_seed if seed is None else seed)
    with edit_plus_resolution(cfg.control_area, cfg.text_image_area):
        result = pipe(
            image=[image.convert("RGB")],
            prompt=plan,
            negative_prompt=cfg.val_negative_prompt if scale > 1 else None,
            true_cfg_scale=scale,
            height=height,
            width=width,
            num_inference_steps=steps or cfg.val_inference_steps,
            generator=generator,
        )
    return result.images[0]


@dataclass
class Validation:
    metrics: dict[str, float]
    grid: Image.Image
    samples: list[dict[str, Any]]


def ssim(a: Image.Image, b: Image.Image) -> float:
    """SSIM of two same-size images on grey levels (scikit-image, 7x7 window or smaller)."""
    from skimage.metrics import structural_similarity

    x = np.asarray(a.convert("L"), dtype=np.float64)
    y = np.asarray(b.convert("L"), dtype=np.float64)
    window = min(7, *x.shape)
    window -= 1 - window % 2  # odd
    return float(structural_similarity(x, y, data_range=255.0, win_size=window))


def validate(
    pipe: Any, val_pairs: Sequence[CachedPair], release_dir: Path, cfg: EditorConfig
) -> Validation:
    """Edit the first ``cfg.val_pairs`` val pairs; SSIM / MAE vs the target; the grid."""
    rows, samples = [], []
    for pair in list(val_pairs)[: cfg.val_pairs]:
        poor = open_rgb(Path(release_dir) / pair.meta["poor"])
        good = open_rgb(Path(release_dir) / pair.meta["good"])
        size = tuple(pair.meta["target_size"])
        after = edit(pipe, poor, pair.meta["plan"], size, cfg)
        target = good.resize(size, Image.Resampling.BICUBIC)
        score = ssim(after, target)
        mae = float(np.abs(np.asarray(after, float) - np.asarray(target, float)).mean() / 255)
        samples.append(
            {"name": pair.meta["name"], "size": list(after.size), "ssim": score, "mae": mae}
        )
        rows.append((poor, after, target, pair.meta["plan"]))
    metrics = {
        "val_ssim": float(np.mean([s["ssim"] for s in samples])),
        "val_mae": float(np.mean([s["mae"] for s in samples])),
        "val_edited": float(len(samples)),
    }
    return Validation(metrics, grid(rows), samples)


def _cell(image: Image.Image) -> Image.Image:
    scale = CELL / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    canvas = Image.new("RGB", (CELL, CELL), (32, 32, 32))
    canvas.paste(
        image.resize(size, Image.Resampling.NEAREST), ((CELL - size[0]) // 2, (CELL - size[1]) // 2)
    )
    return canvas


def grid(rows: Sequence[tuple[Image.Image, Image.Image, Image.Image, str]]) -> Image.Image:
    """Rows of before | after | target with titles and the plan text under each row."""
    title, text_h = 14, PLAN_LINES * LINE_HEIGHT + 4
    row_h = title + CELL + text_h
    sheet = Image.new("RGB", (3 * CELL, max(1, len(rows)) * row_h), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (before, after, target, plan) in enumerate(rows):
        top = r * row_h
        for c, (label, image) in enumerate(
            (("before", before), ("after", after), ("target", target))
        ):
            draw.text((c * CELL + 4, top + 1), label, fill=(0, 0, 0))
            sheet.paste(_cell(image), (c * CELL, top + title))
        lines = [
            line
            for part in plan.splitlines()
            for line in textwrap.wrap(part, width=3 * CELL // 6) or [""]
        ][:PLAN_LINES]
        for i, line in enumerate(lines):
            draw.text((4, top + title + CELL + 2 + i * LINE_HEIGHT), line, fill=(40, 40, 40))
    return sheet
