"""The benchmark's systems, aggregation and error handling on a tiny release.

The editor here is a deterministic image operation behind the ``Editor`` interface (the trained
AesEditor is exercised by the eval stage's own tests): an empty instruction returns the photo,
any other crops its centre 80 % and resizes back (a "tighter framing" edit).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.errors import InputError
from aesformer.evaluation.benchmark import (
    SYSTEMS,
    load_test_items,
    run_benchmark,
    table_markdown,
)
from tests.unit.test_thinker_data import build_tiny_release

pytestmark = pytest.mark.unit


class CropEditor:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def edit(self, image: np.ndarray, instruction: str) -> np.ndarray:
        self.calls.append(instruction)
        if not instruction:
            return image.copy()
        h, w = image.shape[:2]
        crop = image[h // 10 : h - h // 10, w // 10 : w - w // 10]
        return cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR)


class OraclePlanner:
    """Writes the ground-truth plan (plan metrics must then be perfect)."""

    def __init__(self, items) -> None:
        self.plans = {item.poor: item.plan_text for item in items}

    def plan(self, image_path: Path) -> str:
        return self.plans[image_path]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_tiny_release(tmp_path_factory.mktemp("rel"))


def test_systems_ordering_and_plan_metrics(release):
    items = load_test_items(release)
    assert len(items) == 2 and all(i.poor.is_file() and i.good.is_file() for i in items)
    editor = CropEditor()
    result = run_benchmark(items, OraclePlanner(items), editor)
    systems = result["systems"]
    assert list(systems) == list(SYSTEMS) and not result["errors"]
    assert systems["identity"]["edit_distance"] == 0.0
    assert systems["identity"]["scene_inliers"] == pytest.approx(1.0)
    assert systems["editor_no_plan"]["edit_distance"] == 0.0  # the editor got an empty prompt
    for edited in ("generic_plan", "gt_plan", "pipeline"):
        assert systems[edited]["edit_distance"] > 0.0
        assert systems[edited]["scene_inliers"] < systems["identity"]["scene_inliers"]
    assert systems["pipeline"]["plan_format_validity"] == 1.0
    assert systems["pipeline"]["plan_alignment"] == pytest.approx(1.0)
    assert "plan_alignment" not in systems["gt_plan"]
    # one call per edited system and item, with the documented instructions
    assert editor.calls.count("") == 2 and editor.calls.count("Improve the composition.") == 2
    assert sum(c.startswith("(1) Aspect Ratio") for c in editor.calls) == 4  # gt + pipeline
    table = table_markdown(systems, ["edit_distance", "plan_alignment"])
    assert "| identity | 0 | – |" in table and "| pipeline |" in table


def test_an_unreadable_item_is_skipped_with_its_file_named(release, tmp_path):
    items = load_test_items(release)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    items = [
        items[0].__class__(items[0].pair_id, broken, items[0].good, items[0].plan_text),
        items[1],
    ]
    result = run_benchmark(items, None, None, systems=["identity"])
    assert result["systems"]["identity"]["items"] == 1.0
    assert result["errors"] == [f"{broken}: not a readable image"]


def test_bad_requests(release, tmp_path):
    items = load_test_items(release)
    with pytest.raises(ValueError, match="needs a planner"):
        run_benchmark(items, None, CropEditor())
    with pytest.raises(ValueError, match="an editor is needed"):
        run_benchmark(items, None, None, systems=["gt_plan"])
    with pytest.raises(InputError, match="manifest.parquet: not found"):
        load_test_items(tmp_path)
    assert len(load_test_items(release, limit=1)) == 1
