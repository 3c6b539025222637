"""The data-quality gate with real Great Expectations: a clean split folder passes; each
corrupted copy fails with the expectation named, is quarantined whole and gets data docs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from aesformer.config import GateConfig, SplitConfig
from aesformer.errors import AesformerError, InputError
from aesformer.fileio import read_bgr, write_png
from aesformer.quality import GateFailed, run_gate
from aesformer.quality.gate import RESULT_FILE, SUMMARY_FILE
from aesformer.split import run as run_split
from tests.split_pairs import make_annotated

CFG = GateConfig()


@pytest.fixture(scope="module")
def clean_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A split folder of 6 videos x 2 pairs (4 / 1 / 1 videos), built once."""
    root = tmp_path_factory.mktemp("gate")
    make_annotated(root / "annotated")
    run_split(SplitConfig(link_images=False), root / "annotated", root / "split")
    return root / "split"


@pytest.fixture
def candidate(clean_split: Path, tmp_path: Path) -> Path:
    """A private copy of the clean split folder to corrupt."""
    return Path(shutil.copytree(clean_split, tmp_path / "candidate"))


def _lines(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (folder / "pairs.jsonl").read_text().splitlines()]


def _write_lines(folder: Path, lines: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(x) + "\n" for x in lines)
    (folder / "pairs.jsonl").write_text(text)


def _edit(folder: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    lines = _lines(folder)
    change(lines)
    _write_lines(folder, lines)


def _first(lines: list[dict[str, Any]], split: str) -> dict[str, Any]:
    return next(x for x in lines if x["split"] == split)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- corruptions
def video_leakage(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        _first(lines, "train")["split"] = "test"  # one pair of a train video goes to test

    _edit(folder, change)


def near_duplicate(folder: Path) -> None:
    lines = _lines(folder)
    source = folder / _first(lines, "train")["good_image"]
    target = folder / _first(lines, "test")["good_image"]
    image = read_bgr(source).astype(np.int16) + 6  # re-graded, re-encoded copy
    h, w = image.shape[:2]
    copy = cv2.resize(np.clip(image, 0, 255).astype(np.uint8), (w + 8, h + 6))
    write_png(target, copy)


def broken_image_path(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[0]["poor_image"] = "images/tut_0000/nowhere_poor.png"

    _edit(folder, change)


def unreadable_png(folder: Path) -> None:
    (folder / _lines(folder)[1]["good_image"]).write_bytes(b"\x89PNG\r\n\x1a\n not really")


def plan_out_of_order(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        rows = lines[2]["plan_text"].split("\n")
        rows[1], rows[2] = rows[2], rows[1]
        lines[2]["plan_text"] = "\n".join(rows)

    _edit(folder, change)


def empty_split(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        for line in lines:
            if line["split"] == "test":
                line["split"] = "val"

    _edit(folder, change)


def null_field(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[3]["plan_text"] = None

    _edit(folder, change)


def missing_field(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        del lines[4]["video_id"]

    _edit(folder, change)


def unknown_field(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[0]["quality"] = "great"

    _edit(folder, change)


def duplicate_pair_id(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[1]["pair_id"] = lines[0]["pair_id"]

    _edit(folder, change)


def score_out_of_range(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[0]["scores"]["aesthetic"] = 7.5

    _edit(folder, change)


def tiny_image(folder: Path) -> None:
    write_png(folder / _lines(folder)[0]["poor_image"], np.full((40, 30, 3), 128, np.uint8))


def wrong_type(folder: Path) -> None:
    def change(lines: list[dict[str, Any]]) -> None:
        lines[0]["event_index"] = "first"

    _edit(folder, change)


CORRUPTIONS = [
    (video_leakage, "expect_column_values_to_be_between column=splits_of_video"),
    (near_duplicate, "expect_column_values_to_be_in_set column=near_duplicate_across_splits"),
    (broken_image_path, "expect_column_values_to_be_in_set column=poor_image_exists"),
    (unreadable_png, "expect_column_values_to_be_in_set column=good_image_decodes"),
    (plan_out_of_order, "expect_column_values_to_be_in_set column=plan_format_ok"),
    (empty_split, "expect_column_distinct_values_to_contain_set column=split"),
    (null_field, "expect_column_values_to_not_be_null column=plan_text"),
    (missing_field, "expect_column_values_to_not_be_null column=video_id"),
    (unknown_field, "expect_table_columns_to_match_set"),
    (duplicate_pair_id, "expect_column_values_to_be_unique column=pair_id"),
    (score_out_of_range, "expect_column_values_to_be_between column=scores_aesthetic"),
    (tiny_image, "expect_column_values_to_be_between column=poor_width"),
    (wrong_type, "expect_column_values_to_be_in_type_list column=event_index"),
]


def test_clean_split_passes_and_writes_data_docs(candidate: Path, tmp_path: Path) -> None:
    before = _files(candidate)
    result = run_gate(CFG, candidate, tmp_path / "docs", tmp_path / "quarantine")
    assert result.success and not result.failed and result.quarantine is None
    assert result.rows == 12 and result.evaluated > 40
    assert result.docs_index == tmp_path / "docs" / "index.html"
    assert result.docs_index.is_file()
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert _files(candidate) == before  # the candidate is left alone
    assert not (tmp_path / "quarantine").exists()
    assert json.loads((tmp_path / "docs" / RESULT_FILE).read_text())["success"] is True
    assert "passed" in result.summary


@pytest.mark.parametrize(
    ("corrupt", "named"), CORRUPTIONS, ids=[c.__name__ for c, _ in CORRUPTIONS]
)
def test_corrupted_copy_fails_and_is_quarantined(
    candidate: Path, tmp_path: Path, corrupt: Callable[[Path], None], named: str
) -> None:
    corrupt(candidate)
    before = _files(candidate)
    with pytest.raises(GateFailed) as info:
        run_gate(CFG, candidate, tmp_path / "docs", tmp_path / "quarantine")
    message = str(info.value)
    assert named in message, message
    assert isinstance(info.value, AesformerError)
    result = info.value.result
    assert not result.success and result.failed
    # moved, not copied, nothing deleted
    assert not candidate.exists()
    (moved,) = (tmp_path / "quarantine").iterdir()
    assert result.quarantine == moved
    assert _files(moved) == before | {SUMMARY_FILE, RESULT_FILE}
    assert (moved / SUMMARY_FILE).read_text().strip() == message
    assert str(moved) in message
    # data docs written, for the failure too
    assert (tmp_path / "docs" / "index.html").is_file()
    assert json.loads((tmp_path / "docs" / RESULT_FILE).read_text())["success"] is False


def test_failure_summary_names_rows_and_observed_values(candidate: Path, tmp_path: Path) -> None:
    video_leakage(candidate)
    with pytest.raises(GateFailed) as info:
        run_gate(CFG, candidate, tmp_path / "docs", tmp_path / "q")
    (failure,) = [f for f in info.value.result.failed if f.column == "splits_of_video"]
    assert failure.observed.startswith("2 unexpected")  # both pairs of the split video
    assert {"line", "pair_id"} <= set(failure.examples[0])
    assert "no video leakage" in failure.check


def test_summary_says_what_is_missing_or_unknown(candidate: Path, tmp_path: Path) -> None:
    empty_split(candidate)
    unknown_field(candidate)
    with pytest.raises(GateFailed) as info:
        run_gate(CFG, candidate, tmp_path / "docs", tmp_path / "q")
    observed = {f.expectation: f.observed for f in info.value.result.failed}
    assert observed["expect_column_distinct_values_to_contain_set"] == 'missing ["test"]'
    assert "quality" in observed["expect_table_columns_to_match_set"]


def test_docs_inside_candidate_move_with_it(candidate: Path, tmp_path: Path) -> None:
    null_field(candidate)
    with pytest.raises(GateFailed) as info:
        run_gate(CFG, candidate, candidate / "gate_docs", tmp_path / "quarantine")
    result = info.value.result
    assert result.docs_index == result.quarantine / "gate_docs" / "index.html"
    assert result.docs_index.is_file()


def test_thresholds_come_from_params(candidate: Path, tmp_path: Path) -> None:
    plan_out_of_order(candidate)  # 1 of 12 plans bad: allowed when 90 % suffice ...
    lenient = GateConfig(min_plan_format_share=0.9)
    with pytest.raises(GateFailed) as info:  # ... but plan_matches_text still fails
        run_gate(lenient, candidate, tmp_path / "docs", tmp_path / "q")
    columns = {f.column for f in info.value.result.failed}
    assert "plan_format_ok" not in columns and "plan_matches_text" in columns


def test_min_pairs_per_split(candidate: Path, tmp_path: Path) -> None:
    with pytest.raises(GateFailed, match="column=pairs_in_split"):
        run_gate(GateConfig(min_pairs_per_split=3), candidate, tmp_path / "d", tmp_path / "q")


def test_empty_candidate_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GateFailed, match="expect_table_row_count_to_be_between"):
        run_gate(CFG, empty, tmp_path / "docs", tmp_path / "q")


def test_missing_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        run_gate(CFG, tmp_path / "nope", tmp_path / "docs", tmp_path / "q")
