"""The shared latents cache on a real S3 server (SeaweedFS): a second worker with an empty
local cache fetches what the first encoded, and a store that is down never stops a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from aesformer.config import EditorConfig
from aesformer.editor.cache import ITEMS, build_cache, load_shard, model_id
from aesformer.editor.stage import load_pipeline
from tests.editor_factory import make_release, tiny_editor_base
from tests.factories import s3_client_with_bucket
from tests.servers import free_port, seaweedfs_s3

pytestmark = pytest.mark.integration

BUCKET = "aesformer-cache"


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline(tiny_editor_base(), None, EditorConfig())


def _build(pipe, release: Path, cache: Path, cfg: EditorConfig):
    return build_cache(pipe, cfg, release, cache, model_id(tiny_editor_base(), None))


def test_second_worker_fetches_what_the_first_encoded(pipe, tmp_path, monkeypatch) -> None:
    release = make_release(tmp_path / "release", train=2, val=1)
    with seaweedfs_s3(tmp_path / "s3") as s3:
        client = s3_client_with_bucket(s3, BUCKET)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["aws_secret_access_key"])
        cfg = EditorConfig(
            cache_url=f"s3://{BUCKET}/editor-cache", cache_endpoint_url=s3["endpoint_url"]
        )
        first = _build(pipe, release, tmp_path / "worker-a", cfg)
        assert first.summary() == {
            "cache_hits": 0, "cache_misses": 3, "cache_failed": 0, "train_pairs": 2,
            "val_pairs": 1, "cache_shared_hits": 0, "cache_shared_puts": 3,
            "cache_shared_errors": 0,
        }  # fmt: skip
        listed = client.list_objects_v2(Bucket=BUCKET, Prefix=f"editor-cache/{ITEMS}/")
        assert sorted(Path(o["Key"]).name for o in listed["Contents"]) == sorted(
            p.name for paths in first.shards.values() for p in paths
        )

        second = _build(pipe, release, tmp_path / "worker-b", cfg)
        assert (second.misses, second.hits, second.shared.fetched) == (0, 3, 3)
        assert second.shared.published == 0
        for split, paths in first.shards.items():
            assert [p.name for p in second.shards[split]] == [p.name for p in paths]
            for a, b in zip(paths, second.shards[split], strict=True):
                assert a.read_bytes() == b.read_bytes()

        # a damaged stored shard is not trusted: encoded again locally and replaced in the store
        name = first.shards["val"][0].name
        client.put_object(Bucket=BUCKET, Key=f"editor-cache/{ITEMS}/{name}", Body=b"not a shard")
        third = _build(pipe, release, tmp_path / "worker-c", cfg)
        assert (third.shared.fetched, third.misses, third.shared.errors) == (2, 1, 1)
        assert third.shared.published == 1
        a, b = load_shard(first.shards["val"][0]), load_shard(third.shards["val"][0])
        assert a.meta == b.meta and torch.equal(a.target, b.target)
        fourth = _build(pipe, release, tmp_path / "worker-d", cfg)
        assert (fourth.shared.fetched, fourth.misses, fourth.shared.errors) == (3, 0, 0)


def test_an_unreachable_store_is_counted_and_the_worker_goes_on(pipe, tmp_path, monkeypatch):
    release = make_release(tmp_path / "release", train=1, val=1)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    cfg = EditorConfig(
        cache_url=f"s3://{BUCKET}/editor-cache",
        cache_endpoint_url=f"http://127.0.0.1:{free_port()}",  # nothing listens
    )
    result = _build(pipe, release, tmp_path / "cache", cfg)
    assert (result.misses, result.shared.fetched, result.shared.published) == (2, 0, 0)
    assert result.shared.errors >= 2
    assert all(p.is_file() for paths in result.shards.values() for p in paths)
