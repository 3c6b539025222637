"""Mining a manifest of s3:// videos from a real S3 server (SeaweedFS on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest

from aesformer.config import MineConfig
from aesformer.corpus import generate_video
from aesformer.mining.stage import run
from aesformer.records import PairRecord, RejectRecord, read_jsonl
from tests.factories import MINING_CORPUS, s3_client_with_bucket
from tests.servers import seaweedfs_s3

pytestmark = pytest.mark.integration


def test_manifest_of_s3_uris(tmp_path, monkeypatch):
    generate_video(tmp_path / "corpus", "tut_0000", seed=0, cfg=MINING_CORPUS)
    video = tmp_path / "corpus" / "videos" / "tut_0000.mp4"
    with seaweedfs_s3(tmp_path / "s3") as s3:
        client = s3_client_with_bucket(s3, "videos")
        client.upload_file(str(video), "videos", "tutorials/a.mp4")
        # a long-lived worker whose boto3 default session already cached other credentials
        import boto3

        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # restored after the test
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stale")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stale")
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION.get_credentials().access_key == "stale"
        # what a worker gets: credentials and endpoint from the environment, never from params
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["aws_secret_access_key"])
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3["endpoint_url"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        manifest = tmp_path / "manifest.jsonl"
        lines = [
            {"uri": "s3://videos/tutorials/a.mp4", "video_id": "a"},
            {"uri": "s3://videos/tutorials/missing.mp4"},
        ]
        manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
        out = tmp_path / "mined"
        summary = run(MineConfig(), manifest, out)
    assert summary["pairs"] == 2 and summary["videos_mined"] == 1
    assert (out / "downloads" / "a.mp4").read_bytes() == video.read_bytes()
    assert {p.video_id for p in read_jsonl(out / "pairs.jsonl", PairRecord)} == {"a"}
    failed = [r for r in read_jsonl(out / "rejects.jsonl", RejectRecord) if r.video_id == "missing"]
    assert failed[0].reason == "download_failed"
    assert s3["aws_secret_access_key"] not in (out / "report.json").read_text()
    assert s3["aws_secret_access_key"] not in (out / "rejects.jsonl").read_text()
