"""Shared fixtures' makers for the editor tests: the tiny base (built once per process) and a
small release folder with Stage 2 pairs, laid out as docs/release.md describes."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

PLAN = (
    "(1) Aspect Ratio: <Ratio>No change needed</Ratio>\n"
    "(2) Framing and Composition: <Composition>Rotate 6° clockwise to level the horizon</Composition>\n"
    "(3) Camera Position and Viewpoint: <Camera>No change needed</Camera>\n"
    "(4) Subject Position: <Position>Shift the subject toward the lower-right</Position>\n"
    "(5) Subject Pose and Action Details: <Pose>No change needed</Pose>\n"
    "(6) Depth of Field and Focus Control: <Focus>No change needed</Focus>\n"
    "(7) Color and Lighting Adjustment: <Color>Slightly raise exposure</Color>"
)
#: (good size, poor size) per pair: two aspect buckets among the targets (96x32 and 64x64 at 64²).
SIZES = [((128, 64), (80, 64)), ((64, 64), (64, 64)), ((128, 64), (80, 64)), ((64, 64), (64, 64))]


@functools.lru_cache(maxsize=1)
def tiny_editor_base() -> Path:
    """The tiny Qwen-Image-Edit-Plus base of the zoo, built once per test process."""
    from aesformer.config import TinyEditorConfig
    from aesformer.zoo.editor import build_editor
    from aesformer.zoo.tokenizer import train_bpe

    out = Path(tempfile.mkdtemp(prefix="aesformer-editor-base-")) / "editor"
    build_editor(TinyEditorConfig(), train_bpe(1024), out)
    return out


def photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A deterministic photo-like image: gradient sky, a darker ground, a bright blob."""
    w, h = size
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((h, w))
    img = np.stack([rows * 200 // h + 30, cols * 180 // w + 40, (rows + cols) % 200 + 20], -1)
    img[rows > h * 0.6] //= 2
    cy, cx = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
    img[(rows - cy) ** 2 + (cols - cx) ** 2 < (h // 6) ** 2] = (230, 200, 180)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def make_release(root: Path, train: int = 4, val: int = 2) -> Path:
    """A release folder with ``train`` + ``val`` Stage 2 pairs (PNG images, plans)."""
    for sub in ("images/good_images", "images/poor_images"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    index = 0
    for split, count in (("train", train), ("val", val)):
        lines = []
        for _ in range(count):
            good_size, poor_size = SIZES[index % len(SIZES)]
            name = f"pair{index:03d}.png"
            photo(good_size, index).save(root / "images/good_images" / name)
            photo(poor_size, 100 + index).save(root / "images/poor_images" / name)
            lines.append(
                json.dumps(
                    {
                        "image_path": f"images/good_images/{name}",
                        "control_path": f"images/poor_images/{name}",
                        "caption": PLAN.replace("6°", f"{index + 2}°"),
                    }
                )
            )
            index += 1
        folder = root / "jsons" / split / "Stage2"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
