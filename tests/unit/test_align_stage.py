"""The align stage end to end on a small pairs folder."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from aesformer.align import run
from aesformer.config import AlignConfig
from aesformer.corpus import make_event
from aesformer.errors import InputError, OutputError
from aesformer.records import PairRecord, RejectRecord, pair_id, read_jsonl, write_jsonl

CFG = AlignConfig()


def _pair(index: int, poor: str, good: str) -> PairRecord:
    sha = f"{index:064x}"
    return PairRecord(
        pair_id=pair_id(sha, 10.0 + index),
        video_id=f"tut_{index:04d}",
        video_sha256=sha,
        event_index=0,
        poor_time_s=1.0,
        good_time_s=10.0 + index,
        poor_image=poor,
        good_image=good,
    )


@pytest.fixture
def pairs_dir(tmp_path):
    root = tmp_path / "mined"
    (root / "images").mkdir(parents=True)
    events = {s: make_event(seed=s, size=(640, 360)) for s in (0, 9, 1)}
    for s, ev in events.items():
        cv2.imwrite(str(root / f"images/{s}_poor.png"), ev.photos.poor)
        cv2.imwrite(str(root / f"images/{s}_good.png"), ev.photos.good)
    (root / "images/corrupt.png").write_bytes(b"garbage")
    pairs = [
        _pair(0, "images/0_poor.png", "images/0_good.png"),  # true pair
        _pair(1, "images/9_poor.png", "images/9_good.png"),  # true pair
        _pair(2, "images/0_poor.png", "images/1_good.png"),  # other scene
        _pair(3, "images/0_poor.png", "images/missing.png"),  # missing image
        _pair(4, "images/corrupt.png", "images/0_good.png"),  # corrupt image
        _pair(5, "../outside.png", "images/0_good.png"),  # escapes the folder
    ]
    write_jsonl(root / "pairs.jsonl", pairs)
    write_jsonl(root / "rejects.jsonl", [RejectRecord(stage="mine", reason="no_events")])
    return root


def test_run_writes_pairs_rejects_report_and_images(pairs_dir, tmp_path):
    out = tmp_path / "aligned"
    summary = run(CFG, pairs_dir, out)
    assert summary["pairs_in"] == 6 and summary["pairs_out"] == 2
    assert summary["rejected"] == 4
    assert summary["rejected_scene_mismatch"] == 1
    assert summary["rejected_image_unreadable"] == 3
    assert summary["upstream_rejects"] == 1 and summary["seconds"] > 0

    kept = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert [p.video_id for p in kept] == ["tut_0000", "tut_0001"]
    for p in kept:
        assert p.alignment is not None and p.alignment.passed
        assert (out / p.poor_image).is_file() and (out / p.good_image).is_file()
    assert not (out / "images/1_good.png").exists()  # only passed pairs' images

    rejects = list(read_jsonl(out / "rejects.jsonl", RejectRecord))
    assert rejects[0].stage == "mine"
    aligned = rejects[1:]
    assert {r.stage for r in aligned} == {"align"}
    assert [r.reason for r in aligned] == ["scene_mismatch"] + ["image_unreadable"] * 3
    assert "missing.png" in aligned[1].detail and aligned[1].video_id == "tut_0003"

    report = json.loads((out / "report.json").read_text())
    assert report["pairs_out"] == 2 and report["thresholds"]["min_inliers"] == CFG.min_inliers


def test_images_are_hard_links_or_copies(pairs_dir, tmp_path):
    linked = tmp_path / "linked"
    run(CFG, pairs_dir, linked)
    src = pairs_dir / "images/0_good.png"
    assert (linked / "images/0_good.png").stat().st_ino == src.stat().st_ino
    copied = tmp_path / "copied"
    run(CFG.model_copy(update={"link_images": False}), pairs_dir, copied)
    dst = copied / "images/0_good.png"
    assert dst.stat().st_ino != src.stat().st_ino and dst.read_bytes() == src.read_bytes()


def test_rerun_is_identical_and_leaves_no_partials(pairs_dir, tmp_path):
    out = tmp_path / "aligned"
    run(CFG, pairs_dir, out)
    first = (out / "pairs.jsonl").read_text()
    run(CFG, pairs_dir, out)
    assert (out / "pairs.jsonl").read_text() == first
    assert not list(out.rglob(".*"))


def test_missing_pairs_file_and_same_folder(tmp_path, pairs_dir):
    with pytest.raises(InputError, match="pairs.jsonl"):
        run(CFG, tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(OutputError, match="differ"):
        run(CFG, pairs_dir, pairs_dir)


def test_mask_is_used_carried_and_a_missing_one_is_a_reason(pairs_dir, tmp_path):
    mask = np.zeros((360, 640), np.uint8)
    mask[300:340, 40:600] = 255
    cv2.imwrite(str(pairs_dir / "images/0_mask.png"), mask)
    with_mask = _pair(0, "images/0_poor.png", "images/0_good.png").model_copy(
        update={"poor_mask_image": "images/0_mask.png"}
    )
    no_mask = _pair(1, "images/9_poor.png", "images/9_good.png").model_copy(
        update={"poor_mask_image": "images/gone.png"}
    )
    write_jsonl(pairs_dir / "pairs.jsonl", [with_mask, no_mask])
    out = tmp_path / "aligned"
    summary = run(CFG, pairs_dir, out)
    assert summary["pairs_out"] == 1 and summary["rejected_image_unreadable"] == 1
    kept = next(iter(read_jsonl(out / "pairs.jsonl", PairRecord)))
    assert (out / kept.poor_mask_image).is_file()  # placed with the pair's images
    reject = list(read_jsonl(out / "rejects.jsonl", RejectRecord))[-1]
    assert "gone.png" in reject.detail and reject.video_id == "tut_0001"
