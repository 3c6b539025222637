"""Truth contract: intervals, canonical JSON, validated loading of truth and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesformer.corpus.truth import (
    SCHEMA_VERSION,
    Interval,
    ManifestEntry,
    TransitionTruth,
    VideoTruth,
    load_truth,
    read_manifest,
    seconds,
)
from aesformer.errors import InputError

pytestmark = pytest.mark.unit


def _video() -> VideoTruth:
    return VideoTruth(
        video_id="tut_0000",
        seed=1,
        fps=30,
        width=640,
        height=360,
        n_frames=90,
        duration_s=3.0,
        codec="mp4v",
        noise_sigma=2.0,
        events=[],
        distractors=[],
        transitions=[TransitionTruth(kind="cut", **Interval.of(30, 30, 30).model_dump())],
    )


def test_interval_times_follow_the_frames() -> None:
    iv = Interval.of(25, 100, 30)
    assert (iv.start_s, iv.end_s) == (0.833333, 3.333333)
    assert seconds(3, 25) == 0.12


def test_truth_round_trips_through_canonical_json(tmp_path: Path) -> None:
    truth = _video()
    assert truth.schema_version == SCHEMA_VERSION
    text = truth.to_json()
    assert text.endswith("\n") and list(json.loads(text))[:3] == [
        "schema_version",
        "video_id",
        "seed",
    ]
    path = tmp_path / "t.json"
    path.write_text(text)
    assert load_truth(path) == truth


def test_invalid_or_missing_truth_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_truth(tmp_path / "missing.json")
    bad = json.loads(_video().to_json()) | {"surprise": 1}
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(InputError, match="bad.json"):
        load_truth(tmp_path / "bad.json")


def test_manifest_lines_are_validated(tmp_path: Path) -> None:
    entry = ManifestEntry(
        video_id="tut_0000",
        path="videos/tut_0000.mp4",
        sha256="a" * 64,
        duration_s=3.0,
        fps=30,
        width=640,
        height=360,
        n_frames=90,
    )
    path = tmp_path / "manifest.jsonl"
    path.write_text(entry.model_dump_json() + "\n")
    assert read_manifest(path) == [entry]
    path.write_text(entry.model_dump_json().replace("a" * 64, "xyz") + "\n")
    with pytest.raises(InputError, match=":1:"):
        read_manifest(path)
