"""Stage 2 pairs read from a release folder; bucket sizes as the Plus pipeline computes them."""

from __future__ import annotations

import pytest
from diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus import calculate_dimensions

from aesformer.editor.data import fit_area, load_pairs
from aesformer.errors import InputError
from tests.editor_factory import make_release

pytestmark = pytest.mark.unit


def test_load_pairs_reads_the_stage2_lines(tmp_path) -> None:
    release = make_release(tmp_path, train=3, val=1)
    pairs = load_pairs(release, "train")
    assert [p.name for p in pairs] == ["pair000", "pair001", "pair002"]
    assert pairs[0].good == "images/good_images/pair000.png"
    assert pairs[0].poor == "images/poor_images/pair000.png"
    assert pairs[0].plan.startswith("(1) Aspect Ratio:")
    assert len(load_pairs(release, "val")) == 1


def test_a_bad_line_is_named_with_file_and_line(tmp_path) -> None:
    release = make_release(tmp_path, train=2, val=1)
    path = release / "jsons/train/Stage2/metadata.jsonl"
    path.write_text(path.read_text() + '{"image_path": "x.png"}\n')
    with pytest.raises(InputError, match=r"metadata.jsonl:3: need a JSON object"):
        load_pairs(release, "train")
    with pytest.raises(InputError, match="not found"):
        load_pairs(release, "test")


@pytest.mark.parametrize(
    ("size", "area"),
    [
        ((360, 270), 4096),
        ((1080, 1440), 1080 * 1440),
        ((1920, 1080), 1024 * 1024),
        ((64, 64), 4096),
    ],
)
def test_fit_area_is_the_pipelines_calculate_dimensions(size, area) -> None:
    assert fit_area(*size, area) == calculate_dimensions(area, size[0] / size[1])
    w, h = fit_area(*size, area)
    assert w % 32 == 0 and h % 32 == 0
