"""DVC remotes from params: a local folder and a real SeaweedFS S3 server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aesformer.config import RemoteConfig
from aesformer.storage import configure_dvc_remote, dvc
from tests.factories import s3_client_with_bucket
from tests.servers import seaweedfs_s3

pytestmark = pytest.mark.integration


def make_repo(root: Path) -> dict[str, str]:
    """A git+DVC repo with one tracked folder; returns {relative path: sha256}."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    dvc(["init", "-q"], root)
    dvc(["config", "core.analytics", "false"], root)
    data = root / "data" / "sample"
    data.mkdir(parents=True)
    digests = {}
    for i in range(3):
        payload = os.urandom(50_000 + i)
        (data / f"blob{i}.bin").write_bytes(payload)
        digests[f"blob{i}.bin"] = hashlib.sha256(payload).hexdigest()
    dvc(["add", "-q", "data/sample"], root)
    return digests


def digests_of(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def wipe_and_pull(root: Path) -> None:
    shutil.rmtree(root / ".dvc" / "cache")
    shutil.rmtree(root / "data" / "sample")
    dvc(["pull", "-q"], root)


def test_local_folder_remote_push_pull(tmp_path):
    repo = tmp_path / "repo"
    digests = make_repo(repo)
    url = configure_dvc_remote(RemoteConfig(name="local", url="../remote"), repo)
    assert url == str((tmp_path / "remote").resolve())
    assert "local" in (repo / ".dvc" / "config.local").read_text()
    assert "remote" not in (repo / ".dvc" / "config").read_text()  # git-tracked config untouched
    dvc(["push", "-q"], repo)
    wipe_and_pull(repo)
    assert digests_of(repo / "data" / "sample") == digests


def test_cli_remote_apply_uses_params(tmp_path):
    repo = tmp_path / "repo"
    make_repo(repo)
    (repo / "params.yaml").write_text("remote:\n  name: shelf\n  url: ../shelf\n")
    (repo / "dvc.yaml").write_text("stages: {}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "aesformer.cli", "remote", "apply"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    config = dvc(["remote", "list"], repo).stdout
    assert "shelf" in config and str((tmp_path / "shelf").resolve()) in config


def test_s3_remote_push_wipe_pull_identical(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    digests = make_repo(repo)
    with seaweedfs_s3(tmp_path / "s3") as s3:
        client = s3_client_with_bucket(s3, "aesformer-test")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["aws_secret_access_key"])
        cfg = RemoteConfig(
            name="s3",
            url="s3://aesformer-test/dvc",
            endpoint_url=s3["endpoint_url"],
            region="us-east-1",
        )
        configure_dvc_remote(cfg, repo)
        local_config = (repo / ".dvc" / "config.local").read_text()
        assert s3["endpoint_url"] in local_config
        assert s3["aws_secret_access_key"] not in local_config  # credentials stay in the env

        dvc(["push", "-q"], repo)
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="aesformer-test")["Contents"]]
        assert len(keys) >= 3 and all(k.startswith("dvc/") for k in keys)

        wipe_and_pull(repo)
        assert digests_of(repo / "data" / "sample") == digests
