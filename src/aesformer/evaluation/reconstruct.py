"""Two-stage inference: AesThinker writes the plan, AesEditor executes it.

``reconstruct(photos, out, planner, editor)`` writes, per photo ``<stem>``:

- ``<stem>.png`` — the edited photo (the editor's output size);
- ``<stem>.plan.txt`` — the plan;
- ``<stem>.side.png`` — poor | edited, side by side.

A folder among ``photos`` stands for its images (``*.png``, ``*.jpg``, ``*.jpeg``, sorted). A
photo that cannot be read (or whose plan cannot be executed) is reported with its file name
and the others go on; nothing already written is overwritten unless ``overwrite``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aesformer.errors import InputError
from aesformer.evaluation.benchmark import Editor, Planner, read_bgr
from aesformer.fileio import write_text
from aesformer.progress import track

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class Reconstructed:
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)  # outputs that existed
    errors: list[str] = field(default_factory=list)


def expand(photos: Iterable[Path]) -> list[Path]:
    """Files as given; folders replaced by their images, sorted; order kept, duplicates once."""
    found: list[Path] = []
    for path in photos:
        path = Path(path)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


def side_by_side(left: np.ndarray, right: np.ndarray, cell: int = 512) -> np.ndarray:
    from aesformer.viz import fit

    return np.hstack([fit(left, cell), fit(right, cell)])


def _write_png(path: Path, image: np.ndarray) -> None:
    import cv2

    partial = path.with_name(f".{path.stem}.partial.png")
    if not cv2.imwrite(str(partial), image):
        raise OSError(f"{path}: could not be written")
    partial.replace(path)


def reconstruct(
    photos: Sequence[Path],
    out: Path,
    planner: Planner,
    editor: Editor,
    *,
    overwrite: bool = False,
) -> Reconstructed:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = Reconstructed()
    items = expand(photos)
    if not items:
        raise InputError("no photos given (files or folders of .png/.jpg)")
    for photo in track(items, "reconstruct"):
        target = out / f"{photo.stem}.png"
        if target.exists() and not overwrite:
            result.skipped.append(target)
            continue
        try:
            if not photo.is_file():
                raise InputError(f"{photo}: no such file")
            poor = read_bgr(photo)
            plan = planner.plan(photo)
            edited = editor.edit(poor, plan)
        except (InputError, ValueError, OSError) as exc:
            message = str(exc) if str(photo) in str(exc) else f"{photo}: {exc}"
            result.errors.append(message)
            log.error("reconstruct: %s (skipped)", message)
            continue
        write_text(out / f"{photo.stem}.plan.txt", plan + "\n")
        _write_png(out / f"{photo.stem}.side.png", side_by_side(poor, edited))
        _write_png(target, edited)
        result.written.append(target)
    return result
