"""mine_video: picklable, caches its result, records whole-video failures as rejects."""

from __future__ import annotations

import pickle

import pytest

from aesformer.config import MineConfig
from aesformer.mining.video import VideoResult, cache_key, cache_path, mine_video
from aesformer.records import PairRecord, RejectRecord

pytestmark = pytest.mark.unit


def test_picklable_and_failure_is_a_reject(tmp_path):
    assert pickle.loads(pickle.dumps(mine_video)) is mine_video
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"")
    res = mine_video(MineConfig(), bad, "x", "00", tmp_path / "out")
    assert res.failed and res.rejects[0].reason == "empty_file" and res.rejects[0].stage == "mine"
    assert not cache_path(tmp_path / "out", "00", cache_key(MineConfig())).exists()  # retried


def test_cache_key_follows_result_params_not_parallelism():
    base = cache_key(MineConfig())
    assert base == cache_key(MineConfig(workers=4, runner="prefect"))
    assert base != cache_key(MineConfig(sample_fps=3.0))
    assert len(base) == 16


def test_result_round_trips_as_cache_entry():
    res = VideoResult(
        "v",
        "ab",
        "src",
        pairs=[
            PairRecord(
                pair_id="p",
                video_id="v",
                video_sha256="ab",
                event_index=0,
                poor_time_s=1,
                good_time_s=2,
                poor_image="a",
                good_image="b",
            )
        ],
        rejects=[RejectRecord(stage="mine", reason="no_good_frame", video_id="v")],
        report={"events": 1},
    )
    back = VideoResult.from_json(res.to_json())
    assert back == res
