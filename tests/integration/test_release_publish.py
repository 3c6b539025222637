"""publish: git tag + DVC push to a real SeaweedFS S3 server + MLflow dataset input (SQLite).

The repo is a temporary git+DVC repo whose ``data/release`` is tracked by ``dvc add``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from aesformer.config import RemoteConfig, TrackingConfig
from aesformer.errors import InputError
from aesformer.records import PairRecord, read_jsonl, write_jsonl
from aesformer.release import (
    PushFailed,
    VersionExists,
    build_release,
    log_release_input,
    publish,
    release_digest,
)
from aesformer.release.version import read_tag
from aesformer.storage import dvc
from tests.factories import s3_client_with_bucket
from tests.servers import free_port, seaweedfs_s3
from tests.unit.test_release_export import make_split
from tests.unit.test_release_version import GIT_ENV

pytestmark = pytest.mark.integration
BUCKET = "aesformer-release"
RELEASE = Path("data/release")


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def commit_release(root: Path, split: Path, message: str) -> None:
    """Build data/release from ``split``, track it with ``dvc add`` and commit the pointer."""
    build_release(split, root / RELEASE)
    dvc(["add", "-q", RELEASE.as_posix()], root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    dvc(["init", "-q"], root)
    dvc(["config", "core.analytics", "false"], root)
    make_split(tmp_path / "split")
    commit_release(root, tmp_path / "split", "release candidate")
    return root


@pytest.fixture
def tracking(tmp_path):
    return TrackingConfig(
        tracking_uri=f"sqlite:///{tmp_path}/mlruns.db",
        artifact_location=str(tmp_path / "mlartifacts"),
        experiment="release-test",
    )


def s3_remote(endpoint: str) -> RemoteConfig:
    return RemoteConfig(
        name="s3", url=f"s3://{BUCKET}/dvc", endpoint_url=endpoint, region="us-east-1"
    )


def release_runs(tracking: TrackingConfig) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking.tracking_uri)
    experiment = client.get_experiment_by_name(tracking.experiment)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_unreachable_then_published_identical_noop_new_version_and_pull(
    repo, tracking, tmp_path, monkeypatch
):
    import mlflow

    digest = release_digest(repo / RELEASE)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testaccess")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testsecret-not-real")

    # 1. the remote is down: a clear error, the release and its tag stay, nothing is logged
    closed = s3_remote(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PushFailed) as failed:
        publish(repo, RELEASE, "1.0.0", closed, tracking)
    message = str(failed.value)
    assert "DVC remote 's3'" in message and "is unreachable" in message
    assert "git tag data-v1.0.0 are kept" in message and "run the release again" in message
    assert read_tag(repo, "data-v1.0.0")["digest"] == digest
    assert release_digest(repo / RELEASE, verify=True) == digest
    assert release_runs(tracking) == []

    with seaweedfs_s3(tmp_path / "s3") as s3:
        client = s3_client_with_bucket(s3, BUCKET)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["aws_access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["aws_secret_access_key"])
        remote = s3_remote(s3["endpoint_url"])

        # 2. retry: pushes and records what the failed attempt could not
        result = publish(repo, RELEASE, "1.0.0", remote, tracking)
        assert (result.status, result.pushed, result.digest) == ("resumed", True, digest)
        md5 = result.dvc_md5
        assert md5.endswith(".dir") and md5 in (repo / "data/release.dvc").read_text()
        keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert f"dvc/files/md5/{md5[:2]}/{md5[2:]}" in keys
        assert len(keys) == 1 + 16 + 11  # directory object, 16 images, 10 JSONs + manifest
        assert result.source == f"s3://{BUCKET}/dvc/files/md5/{md5[:2]}/{md5[2:]}"

        (run,) = release_runs(tracking)
        assert run.info.run_id == result.mlflow_run_id and run.info.status == "FINISHED"
        assert run.data.tags["aesformer.release.version"] == "1.0.0"
        assert run.data.tags["aesformer.release.tag"] == "data-v1.0.0"
        assert run.data.metrics["pairs"] == 8.0 and run.data.metrics["pairs_test"] == 2.0
        (dataset_input,) = run.inputs.dataset_inputs
        assert dataset_input.dataset.name == "aesrecon-1.0.0"
        assert dataset_input.dataset.digest == digest
        assert md5[2:] in dataset_input.dataset.source
        assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "release"

        # 3. the same version and data again: nothing to do
        again = publish(repo, RELEASE, "1.0.0", remote, tracking)
        assert again.status == "unchanged" and not again.pushed
        assert again.message == "data-v1.0.0 already released, identical: nothing to do"
        assert again.mlflow_run_id == result.mlflow_run_id and len(release_runs(tracking)) == 1

        # 4. other data: the existing version is refused, a new one is released
        split = tmp_path / "split"
        pairs = list(read_jsonl(split / "pairs.jsonl", PairRecord))
        write_jsonl(split / "pairs.jsonl", pairs[1:])
        commit_release(repo, split, "fewer pairs")
        with pytest.raises(VersionExists, match="release 1.0.0 already exists .* different data"):
            publish(repo, RELEASE, "1.0.0", remote, tracking)
        newer = publish(repo, RELEASE, "1.1.0", remote, tracking)
        assert newer.status == "released" and newer.pushed and newer.digest != digest
        assert read_tag(repo, "data-v1.1.0")["pairs"] == 7
        assert read_tag(repo, "data-v1.0.0")["digest"] == digest  # untouched
        assert len(release_runs(tracking)) == 2

        # 5. pulling a version back: check out its tag, pull from S3 with an empty cache
        git(repo, "checkout", "-q", "data-v1.0.0")
        shutil.rmtree(repo / ".dvc" / "cache")
        shutil.rmtree(repo / RELEASE)
        dvc(["pull", "-q", RELEASE.as_posix()], repo)
        assert release_digest(repo / RELEASE, verify=True) == digest

    # 6. a training run records the release it used (same name, digest and source)
    experiment = mlflow.get_experiment_by_name(tracking.experiment)
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name="sft") as run:
        assert log_release_input(repo, repo / RELEASE) == digest
    (used,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert (used.dataset.name, used.dataset.digest) == ("aesrecon-1.0.0", digest)
    assert used.dataset.source == dataset_input.dataset.source


def test_uncommitted_pointer_or_changed_data_is_refused(repo, tracking, tmp_path):
    remote = RemoteConfig(name="shelf", url=str(tmp_path / "shelf"))
    image = next((repo / RELEASE / "images/good_images").iterdir())
    manifest = repo / RELEASE / "manifest.parquet"
    manifest.write_bytes(manifest.read_bytes())  # same content: still clean
    extra = repo / RELEASE / "jsons" / "notes.txt"
    extra.write_text("added after dvc add\n")
    with pytest.raises(InputError, match="differs from its DVC pointer data/release.dvc"):
        publish(repo, RELEASE, "1.0.0", remote, tracking)
    dvc(["add", "-q", RELEASE.as_posix()], repo)  # recorded in DVC, not yet in git
    with pytest.raises(InputError, match=r"data/release.dvc: not committed"):
        publish(repo, RELEASE, "1.0.0", remote, tracking)
    assert read_tag(repo, "data-v1.0.0") is None and image.is_file()
    git(repo, "commit", "-q", "-am", "notes")
    result = publish(repo, RELEASE, "1.0.0", remote, tracking)  # a local folder remote
    assert result.status == "released" and result.pushed
    assert result.source.startswith(str((tmp_path / "shelf").resolve()))
