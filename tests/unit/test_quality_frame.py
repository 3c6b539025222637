"""The gate's table: one row per line, raw fields as read plus the computed columns."""

from __future__ import annotations

import json
from pathlib import Path

from aesformer.config import GateConfig, SplitConfig
from aesformer.quality.frame import RECORD_COLUMNS, build_frame, derived_columns
from aesformer.split import run as run_split
from tests.split_pairs import make_annotated


def test_columns_and_values(tmp_path: Path) -> None:
    make_annotated(tmp_path / "a", videos=3, pairs_per_video=1)
    run_split(SplitConfig(), tmp_path / "a", tmp_path / "s")
    with (tmp_path / "s" / "pairs.jsonl").open("a") as fh:
        fh.write("not json\n")
        fh.write(json.dumps({"pair_id": "p", "extra": 1}) + "\n")
    cfg = GateConfig()
    frame = build_frame(tmp_path / "s", cfg)
    assert list(frame.columns) == [*RECORD_COLUMNS, "extra", *derived_columns(cfg)]
    assert frame["line"].tolist() == [1, 2, 3, 4, 5]
    assert frame["record_valid"].tolist() == [True, True, True, False, False]
    assert frame["good_image_decodes"].tolist() == [True, True, True, False, False]
    assert frame.loc[0, "good_width"] == 128 and len(frame.loc[0, "good_phash"]) == 16
    assert frame["splits_of_video"].tolist() == [1, 1, 1, 1, 1]
    assert frame["plan_format_ok"].tolist()[:3] == [True] * 3
    assert frame["scores_aesthetic"].tolist()[:4] == [0.6, 0.6, 0.6, None]
    assert sorted(frame["pairs_in_split"].tolist()[:3]) == [1, 1, 1]
    assert not frame["near_duplicate_across_splits"].any()


def test_missing_pairs_file_gives_an_empty_table(tmp_path: Path) -> None:
    cfg = GateConfig()
    frame = build_frame(tmp_path, cfg)
    assert len(frame) == 0 and list(frame.columns) == [*RECORD_COLUMNS, *derived_columns(cfg)]


def test_a_null_does_not_turn_ints_into_floats(tmp_path: Path) -> None:
    make_annotated(tmp_path / "a", videos=3, pairs_per_video=1)
    run_split(SplitConfig(), tmp_path / "a", tmp_path / "s")
    lines = (tmp_path / "s" / "pairs.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["event_index"] = None
    lines[0] = json.dumps(first)
    (tmp_path / "s" / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    frame = build_frame(tmp_path / "s", GateConfig())
    assert frame["event_index"].tolist() == [None, 0, 0]
    assert type(frame.loc[1, "event_index"]) is int
