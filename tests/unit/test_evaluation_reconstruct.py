"""reconstruct(): outputs per photo, folders expanded, bad photos named, nothing overwritten."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.errors import InputError
from aesformer.evaluation.reconstruct import expand, reconstruct
from tests.unit.test_evaluation_benchmark import CropEditor

pytestmark = pytest.mark.unit
PLAN = "(1) Aspect Ratio: <Ratio>No change needed</Ratio>"


class FixedPlanner:
    def __init__(self) -> None:
        self.seen: list[Path] = []

    def plan(self, image_path: Path) -> str:
        self.seen.append(image_path)
        return PLAN


def photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    cv2.imwrite(str(path), rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    return path


def test_reconstruct_writes_three_files_per_photo_and_goes_on_after_a_bad_one(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    a, b = photo(folder / "a.png", 0), photo(folder / "b.jpg", 1)
    (folder / "notes.txt").write_text("not a photo")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG truncated")
    assert expand([folder, a, broken]) == [a, b, broken]

    planner, out = FixedPlanner(), tmp_path / "out"
    result = reconstruct([folder, broken], out, planner, CropEditor())
    assert result.written == [out / "a.png", out / "b.png"]
    assert result.errors == [f"{broken}: not a readable image"]
    for stem in ("a", "b"):
        assert (out / f"{stem}.plan.txt").read_text() == PLAN + "\n"
        side = cv2.imread(str(out / f"{stem}.side.png"))
        assert side.shape == (512, 1024, 3)
        assert cv2.imread(str(out / f"{stem}.png")).shape == (60, 80, 3)
    assert not list(out.glob(".*partial*"))

    before = (out / "a.png").read_bytes()
    again = reconstruct([a], out, planner, CropEditor())
    assert again.skipped == [out / "a.png"] and not again.written
    assert (out / "a.png").read_bytes() == before
    assert reconstruct([a], out, planner, CropEditor(), overwrite=True).written == [out / "a.png"]


def test_nothing_to_do_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no photos given"):
        reconstruct([tmp_path / "empty"], tmp_path / "out", FixedPlanner(), CropEditor())
