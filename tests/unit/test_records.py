"""Cross-stage records: schema strictness, deterministic ids, JSON-lines I/O errors."""

from __future__ import annotations

import pytest

from aesformer.errors import InputError
from aesformer.records import Alignment, PairRecord, RejectRecord, pair_id, read_jsonl, write_jsonl

pytestmark = pytest.mark.unit


def pair(**over) -> PairRecord:
    base = dict(
        pair_id=pair_id("ab" * 32, 12.5),
        video_id="tut_0000",
        video_sha256="ab" * 32,
        event_index=0,
        poor_time_s=3.0,
        good_time_s=12.5,
        poor_image="images/p.png",
        good_image="images/g.png",
    )
    return PairRecord(**{**base, **over})


def test_pair_id_is_deterministic_and_time_sensitive():
    assert pair_id("ab" * 32, 12.5) == pair_id("ab" * 32, 12.5004)  # same millisecond
    assert pair_id("ab" * 32, 12.5) != pair_id("ab" * 32, 12.6)
    assert pair_id("ab" * 32, 12.5) != pair_id("cd" * 32, 12.5)


def test_round_trip_with_alignment(tmp_path):
    aligned = pair(
        alignment=Alignment(
            passed=True,
            scene_inlier_ratio=0.8,
            global_similarity=0.9,
            person_match=True,
            new_objects=0,
            homography=[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        )
    )
    rows = [pair(), aligned]
    path = tmp_path / "out" / "pairs.jsonl"
    assert write_jsonl(path, rows) == 2
    assert list(read_jsonl(path, PairRecord)) == rows
    assert not list(tmp_path.joinpath("out").glob(".*partial*"))  # atomic: no leftovers


def test_bad_line_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    good = pair().model_dump_json()
    path.write_text(good + "\n\n" + good.replace('"event_index":0', '"event_index":-1') + "\n")
    rows = read_jsonl(path, PairRecord)
    assert next(rows).event_index == 0
    with pytest.raises(InputError, match=r"pairs.jsonl:3: event_index: Input should be greater"):
        next(rows)


def test_unknown_field_and_missing_file(tmp_path):
    path = tmp_path / "rejects.jsonl"
    path.write_text('{"stage": "mine", "reason": "corrupt_video", "colour": "red"}\n')
    with pytest.raises(InputError, match=r"rejects.jsonl:1: colour: Extra inputs"):
        list(read_jsonl(path, RejectRecord))
    with pytest.raises(InputError, match="not found"):
        list(read_jsonl(tmp_path / "none.jsonl", RejectRecord))
