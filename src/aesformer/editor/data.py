"""The release's Stage 2 data (the editor's training pairs) and the bucket sizes.

A release (docs/release.md) holds, per training split, musubi-tuner style JSON lines
``jsons/<split>/Stage2/metadata.jsonl``::

    {"image_path": "images/good_images/<id>.png",     # the target (good photo)
     "control_path": "images/poor_images/<id>.png",   # the condition (poor photo)
     "caption": "(1) Aspect Ratio: <Ratio>...</Ratio>\\n..."}   # the plan

Paths are relative to the release root. The file is read here from its documented layout; no
other stage's package is imported.

Sizes: an image of aspect ``w / h`` is resized to the sides (multiples of 32 px) whose area is
closest to a configured area, as ``QwenImageEditPlusPipeline`` sizes its inputs
(``calculate_dimensions``); the target sizes are the aspect-ratio buckets of training.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from aesformer.errors import InputError

#: What the editor trains on, per split (relative to the release root).
STAGE2_FILE = "jsons/{split}/Stage2/metadata.jsonl"
#: Pixel sides are multiples of this (VAE 8x down-sampling, then 2x2 patches, then the pipeline's
#: rounding to 32).
SIDE_MULTIPLE = 32


@dataclass(frozen=True)
class EditPair:
    """One Stage 2 line: the good image (target), the poor image (condition) and the plan."""

    good: str  # release-relative path
    poor: str  # release-relative path
    plan: str
    where: str  # "<file>:<line>", for messages

    @property
    def name(self) -> str:
        return Path(self.good).stem


def stage2_file(release_dir: Path, split: str) -> Path:
    return Path(release_dir) / STAGE2_FILE.format(split=split)


def load_pairs(release_dir: Path, split: str) -> list[EditPair]:
    """The Stage 2 pairs of ``split``; a malformed line is an :class:`InputError` naming it."""
    path = stage2_file(release_dir, split)
    if not path.is_file():
        raise InputError(f"{path}: not found (not a release folder, or no {split} split?)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
            good, poor, plan = row["image_path"], row["control_path"], row["caption"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(
                f"{where}: need a JSON object with image_path, control_path, caption"
            ) from None
        if not all(isinstance(v, str) and v for v in (good, poor)) or not isinstance(plan, str):
            raise InputError(f"{where}: image_path / control_path / caption must be strings")
        pairs.append(EditPair(good=good, poor=poor, plan=plan, where=where))
    return pairs


def fit_area(width: int, height: int, area: int) -> tuple[int, int]:
    """(width, height) with the aspect of ``width x height``, sides multiples of 32 px and an
    area close to ``area`` (the Plus pipeline's ``calculate_dimensions``; never below 32 px)."""
    ratio = width / height
    w = math.sqrt(area * ratio)
    h = w / ratio
    return (
        max(SIDE_MULTIPLE, round(w / SIDE_MULTIPLE) * SIDE_MULTIPLE),
        max(SIDE_MULTIPLE, round(h / SIDE_MULTIPLE) * SIDE_MULTIPLE),
    )
