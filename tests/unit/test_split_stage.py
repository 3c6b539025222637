"""The split stage on a synthetic annotate folder: by video, report, rejects, images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesformer.config import SplitConfig
from aesformer.errors import OutputError
from aesformer.plans import DIMENSION_KEYS
from aesformer.records import PairRecord, RejectRecord, read_jsonl
from aesformer.split import SPLITS, run
from tests.split_pairs import make_annotated


@pytest.fixture
def annotated(tmp_path: Path) -> Path:
    make_annotated(tmp_path / "annotated")
    return tmp_path / "annotated"


def test_assigns_whole_videos_and_reports(annotated: Path, tmp_path: Path) -> None:
    out = tmp_path / "split"
    summary = run(SplitConfig(), annotated, out)
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert len(pairs) == 12 and summary["pairs_out"] == 12
    by_video: dict[str, set[str | None]] = {}
    for p in pairs:
        by_video.setdefault(p.video_id, set()).add(p.split)
        assert (out / p.poor_image).is_file() and (out / p.good_image).is_file()
    assert all(len(s) == 1 for s in by_video.values())  # no video in two splits
    assert (summary["videos_train"], summary["videos_val"], summary["videos_test"]) == (4, 1, 1)
    assert summary["pairs_train"] + summary["pairs_val"] + summary["pairs_test"] == 12

    report = json.loads((out / "report.json").read_text())
    assert report["params"]["seed"] == 0
    assert sorted(sum(report["videos_by_split"].values(), [])) == sorted(by_video)
    for name in SPLITS:
        stats = report["splits"][name]
        assert set(stats["dimensions"]) == set(DIMENSION_KEYS)
        for dim in stats["dimensions"].values():
            assert dim["changed"] + dim["no_change"] + dim["missing"] == stats["pairs"]
    train = report["splits"]["train"]["dimensions"]
    assert train["composition"]["changed_share"] == 1.0  # always changed in the fixtures
    assert train["pose"]["changed_share"] == 0.0  # never changed
    rejects = list(read_jsonl(out / "rejects.jsonl", RejectRecord))
    assert [r.stage for r in rejects] == ["align"]  # upstream carried


def test_deterministic(annotated: Path, tmp_path: Path) -> None:
    run(SplitConfig(seed=3), annotated, tmp_path / "a")
    run(SplitConfig(seed=3), annotated, tmp_path / "b")
    assert (tmp_path / "a" / "pairs.jsonl").read_bytes() == (
        tmp_path / "b" / "pairs.jsonl"
    ).read_bytes()


def test_rejects_bad_lines_and_pairs_without_plan(annotated: Path, tmp_path: Path) -> None:
    lines = (annotated / "pairs.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["plan"] = None
    lines[0] = json.dumps(first)
    lines.append('{"pair_id": "x"}')  # missing fields
    lines.append("not json")
    (annotated / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    summary = run(SplitConfig(), annotated, tmp_path / "split")
    assert summary["pairs_out"] == 11
    assert summary["rejected_no_plan"] == 1 and summary["rejected_bad_record"] == 2
    rejects = list(read_jsonl(tmp_path / "split" / "rejects.jsonl", RejectRecord))
    assert [r.reason for r in rejects] == ["scene_mismatch", "no_plan", "bad_record", "bad_record"]
    assert rejects[2].source.endswith("pairs.jsonl:13")


def test_image_path_outside_the_folder_is_rejected(annotated: Path, tmp_path: Path) -> None:
    lines = (annotated / "pairs.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["good_image"] = "../../etc/passwd"
    lines[0] = json.dumps(first)
    (annotated / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    summary = run(SplitConfig(), annotated, tmp_path / "split")
    assert summary["rejected_bad_image_path"] == 1 and summary["pairs_out"] == 11


def test_output_must_differ_from_input(annotated: Path) -> None:
    with pytest.raises(OutputError):
        run(SplitConfig(), annotated, annotated)
