"""Release versioning pieces that need no DVC remote: versions, pointers, tag records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from aesformer.config import ReleaseConfig, RemoteConfig, TrackingConfig
from aesformer.errors import ConfigError, InputError
from aesformer.release import build_release, check_version, find_version, publish, releases
from aesformer.release.version import dataset_source, dvc_pointer, read_tag
from tests.unit.test_release_export import make_split

GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}


@pytest.mark.parametrize("version", ["1.0.0", "0.1.0", "10.20.30", "1.1.0-rc.1", "2.0.0-beta-2"])
def test_valid_versions(version):
    assert check_version(version) == version


@pytest.mark.parametrize("version", ["v1.0.0", "1.0", "01.0.0", "1.0.0+build", "1.0.0-", "", "x"])
def test_invalid_versions(version):
    with pytest.raises(ConfigError, match="MAJOR.MINOR.PATCH"):
        check_version(version)


def test_leading_v_gets_a_hint():
    with pytest.raises(ConfigError, match="without the leading v"):
        check_version("v2.0.0")


def test_dataset_source_is_the_dvc_directory_object():
    assert (
        dataset_source("s3://bucket/dvc/", "3cb74e45b9e3d01ca7241ac1d27b7224.dir")
        == "s3://bucket/dvc/files/md5/3c/b74e45b9e3d01ca7241ac1d27b7224.dir"
    )


def test_dvc_pointer_from_dot_dvc_then_lock(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  release:\n    cmd: x\n    outs:\n"
        "    - path: data/release\n      md5: aaa.dir\n"
    )
    assert dvc_pointer(tmp_path, "data/release") == ("dvc.lock", "aaa.dir")
    (tmp_path / "data" / "release.dvc").write_text("outs:\n- md5: bbb.dir\n  path: release\n")
    assert dvc_pointer(tmp_path, "data/release") == ("data/release.dvc", "bbb.dir")
    with pytest.raises(InputError, match="not tracked by DVC"):
        dvc_pointer(tmp_path, "data/other")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True, env=_env()
    ).stdout


def _env() -> dict[str, str]:
    import os

    return {**os.environ, **GIT_ENV}


def test_tag_records_are_read_back(tmp_path, monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    git(tmp_path, "init", "-q")
    git(tmp_path, "commit", "-q", "--allow-empty", "-m", "init")
    record = {"version": "1.0.0", "digest": "d1"}
    git(tmp_path, "tag", "-a", "-m", f"release\n\n{json.dumps(record)}", "data-v1.0.0")
    git(tmp_path, "tag", "-a", "-m", "not a record", "data-v0.9.0")
    git(
        tmp_path, "tag", "-a", "-m", json.dumps({"version": "1.1.0", "digest": "d2"}), "data-v1.1.0"
    )
    assert read_tag(tmp_path, "data-v1.0.0") == record
    assert read_tag(tmp_path, "data-v0.9.0") == {}
    assert read_tag(tmp_path, "data-v9.9.9") is None
    assert set(releases(tmp_path)) == {"1.0.0", "1.1.0"}
    assert find_version(tmp_path, "d2") == "1.1.0" and find_version(tmp_path, "zz") is None
    assert releases(tmp_path, ReleaseConfig(tag_prefix="other-")) == {}


def test_publish_checks_version_and_tracking_before_touching_anything(tmp_path):
    make_split(tmp_path / "split")
    build_release(tmp_path / "split", tmp_path / "data" / "release")
    args = (RemoteConfig(url=str(tmp_path / "remote")), TrackingConfig(enabled=False))
    with pytest.raises(ConfigError, match="not MAJOR.MINOR.PATCH"):
        publish(tmp_path, Path("data/release"), "latest", *args)
    with pytest.raises(InputError, match="not tracked by DVC"):
        publish(tmp_path, Path("data/release"), "1.0.0", *args)
    with pytest.raises(InputError, match="not found"):
        publish(tmp_path, Path("data/nothing"), "1.0.0", *args)
    assert not (tmp_path / "remote").exists()
