"""Contact sheets of pairs: one row per pair, one cell per image column."""

from __future__ import annotations

import numpy as np
import pytest

from aesformer.fileio import write_png
from aesformer.records import PairRecord, write_jsonl
from aesformer.viz import fit, pair_grid

pytestmark = pytest.mark.unit


def _pairs(folder, n, raw=True):
    records = []
    for i in range(n):
        names = {k: f"images/{i}_{k}.png" for k in ("poor", "good", "raw")}
        for rel in names.values():
            write_png(folder / rel, np.full((40 + i, 60, 3), 50 * (1 + i), np.uint8))
        records.append(
            PairRecord(
                pair_id=str(i),
                video_id="v",
                video_sha256="ab",
                event_index=i,
                poor_time_s=1,
                good_time_s=2,
                poor_image=names["poor"],
                good_image=names["good"],
                poor_raw_image=names["raw"] if raw else None,
            )
        )
    write_jsonl(folder / "pairs.jsonl", records)


def test_fit_letterboxes_keeping_aspect():
    out = fit(np.full((50, 100, 3), 255, np.uint8), 64)
    assert out.shape == (64, 64, 3)
    assert out[0, 0].sum() == 0 and out[32, 32].sum() == 3 * 255  # bars top, image centre


def test_grid_rows_and_columns(tmp_path):
    _pairs(tmp_path / "a", 3)
    grid = pair_grid(tmp_path / "a", cell=32)
    assert grid.shape == (3 * 32, 3 * 32, 3)  # raw | cleaned | good
    _pairs(tmp_path / "b", 2, raw=False)
    assert pair_grid(tmp_path / "b", cell=32).shape == (2 * 32, 2 * 32, 3)
    assert pair_grid(tmp_path / "a", limit=1, cell=32).shape[0] == 32


def test_grid_skips_unreadable_and_empty(tmp_path):
    _pairs(tmp_path, 2)
    (tmp_path / "images/0_good.png").unlink()
    assert pair_grid(tmp_path, cell=16).shape == (16, 48, 3)
    write_jsonl(tmp_path / "pairs.jsonl", [])
    assert pair_grid(tmp_path) is None
