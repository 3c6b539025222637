"""flows/stages.py (the train/evaluate/promote deployments' flows) on a real Prefect server:
each flow run in its own git worktree sharing the DVC cache (or in place in a deployment's
clone, pushing its outputs and result branch), its dvc.lock kept on a branch, and the lineage
artifact linking the flow run, its MLflow runs, the data release and commits."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from aesformer.errors import AesformerError
from tests.conftest import REPO
from tests.integration.test_pipeline_flow import small_repo

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]

COUNT = (
    "python -c \"import pathlib; n = len(pathlib.Path('data/raw/manifest.jsonl')"
    ".read_text().splitlines()); pathlib.Path('count.txt').write_text(str(n))\""
)


def _git(root, *args) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def _lineage(flow_run_id: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["lineage"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]),
            )
        )
    assert len(found) == 1
    return found[0].data


def test_flow_runs_in_its_own_worktree_and_records_lineage(tmp_path, monkeypatch):
    from flows.pipeline import pipeline
    from flows.stages import train_editor, train_thinker

    corpus = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["corpus"]
    wiring = {
        "stages": {
            "corpus": corpus,
            "count": {"cmd": COUNT, "deps": ["data/raw"], "outs": ["count.txt"]},
        }
    }
    root = small_repo(tmp_path / "repo", wiring)
    pipeline(root=str(root), stages=["corpus"])
    _git(root, "add", "dvc.lock", "data/.gitignore")
    _git(root, "commit", "-q", "-m", "corpus outputs")
    _git(root, "tag", "data-v0.0.1")
    workdir = tmp_path / "runs"

    # a deployment naming a stage this commit lacks fails before any work
    with pytest.raises(AesformerError, match=r"no stage\(s\) \['editor'\] at this commit"):
        train_editor(root=str(root), workdir=str(workdir))
    assert not workdir.exists()

    # count reads corpus's output: fetched into the worktree from the shared DVC cache
    record = train_editor(stages=["count"], root=str(root), workdir=str(workdir))
    assert record["stages"] == ["count"] and record["branch"].startswith("runs/")
    assert record["source_commit"] == _git(root, "rev-parse", "HEAD")
    assert record["release"]["tag"] == "data-v0.0.1"
    assert _git(root, "rev-parse", record["branch"]) == record["result_commit"]
    assert "count.txt" in _git(root, "show", f"{record['branch']}:dvc.lock")
    assert not any((workdir / "aesformer-checkouts").iterdir())  # worktree removed
    assert not (root / "count.txt").exists()  # nothing ran in the source workspace
    assert record["runs"] == []  # count logs no MLflow run
    assert "no MLflow run" in _lineage(record["flow_run_id"])

    # a stage that tracks: its MLflow run (in the source's store) is linked both ways
    record = train_thinker(
        stages=["corpus"], root=str(root), workdir=str(workdir), force=True, keep_checkout=True
    )
    assert [r["stage"] for r in record["runs"]] == ["corpus"]
    kept = workdir / "aesformer-checkouts" / record["branch"].removeprefix("runs/")
    assert (kept / "data/raw/manifest.jsonl").is_file()
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlruns.db")
    tags = client.get_run(record["runs"][0]["run_id"]).data.tags
    assert tags["prefect.flow_run_id"] == record["flow_run_id"]
    assert tags["git.result_commit"] == record["result_commit"]
    assert tags["dvc.release"] == "data-v0.0.1"
    assert tags["git.commit"] == record["source_commit"]
    lineage = _lineage(record["flow_run_id"])
    assert record["runs"][0]["run_id"] in lineage and record["result_commit"] in lineage

    # a deployment's run: in place in its own clone (the pull step's), inputs pulled from the
    # DVC remote, outputs pushed to it, the result branch pushed back to the shared repository
    from aesformer.config import RemoteConfig
    from aesformer.storage import configure_dvc_remote, dvc

    remote = RemoteConfig(url=str(tmp_path / "dvc-remote"))
    configure_dvc_remote(remote, root)
    dvc(["push", "data/raw"], root)
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(root), str(clone))
    configure_dvc_remote(remote, clone)
    for key in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{key}_NAME", "Worker")
        monkeypatch.setenv(f"GIT_{key}_EMAIL", "worker@example.invalid")
    record = train_editor(stages=["count"], root=str(clone), isolate=False, push=True)
    assert record["pushed"] == ["count.txt"]
    assert (clone / "count.txt").read_text() == "3"
    assert _git(root, "rev-parse", record["branch"]) == record["result_commit"]
    lock = yaml.safe_load(_git(root, "show", f"{record['branch']}:dvc.lock"))
    md5 = lock["stages"]["count"]["outs"][0]["md5"]
    assert (tmp_path / "dvc-remote/files/md5" / md5[:2] / md5[2:]).is_file()
    with pytest.raises(AesformerError, match="needs an isolated run"):
        train_editor(stages=["count"], root=str(clone), isolate=False, ref="HEAD~1")
