"""MLflow run helper against a real SQLite store: params, lineage tags, failure status."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from aesformer.config import CorpusConfig, TrackingConfig
from aesformer.tracking import (
    dvc_lineage,
    flatten,
    log_metrics,
    resolve_artifact_location,
    resolve_tracking_uri,
    stage_run,
)

pytestmark = pytest.mark.unit


def test_flatten_drops_secret_like_keys():
    flat = flatten({"a": {"b": 1, "api_key": "x", "Secret_Token": "y"}, "password": "z", "c": True})
    assert flat == {"a.b": "1", "c": "True"}


def test_a_stage_run_does_not_turn_its_uri_into_an_override(tmp_path, monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; the next config must still win."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = TrackingConfig(tracking_uri=f"sqlite:///{tmp_path}/a.db", experiment="a")
    second = TrackingConfig(tracking_uri=f"sqlite:///{tmp_path}/b.db", experiment="b")
    with stage_run("one", first, root=tmp_path):
        pass
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert resolve_tracking_uri(second, tmp_path) == second.tracking_uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", first.tracking_uri)
    with stage_run("two", second, root=tmp_path):
        pass
    assert os.environ["MLFLOW_TRACKING_URI"] == first.tracking_uri


def test_tracking_uri_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = TrackingConfig()
    assert resolve_tracking_uri(cfg, tmp_path) == f"sqlite:///{tmp_path}/mlruns.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri(cfg, tmp_path) == "http://127.0.0.1:5999"
    assert resolve_artifact_location(cfg, tmp_path, "http://127.0.0.1:5999") is None
    assert resolve_artifact_location(cfg, tmp_path, "sqlite:///x").startswith("file://")
    s3 = TrackingConfig(artifact_location="s3://b/p")
    assert resolve_artifact_location(s3, tmp_path, "http://h") == "s3://b/p"


def _repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "corpus": {"cmd": "c", "outs": ["data/raw"]},
                    "mine": {"cmd": "m", "deps": ["data/raw", "src"], "outs": ["data/mined"]},
                }
            }
        )
    )
    (tmp_path / "dvc.lock").write_text(
        yaml.safe_dump(
            {
                "schema": "2.0",
                "stages": {
                    "corpus": {"cmd": "c", "outs": [{"path": "data/raw", "md5": "f00.dir"}]}
                },
            }
        )
    )
    return tmp_path


def test_dvc_lineage_reads_producer_hashes(tmp_path):
    root = _repo(tmp_path)
    tags = dvc_lineage(root, "mine")
    assert tags["dvc.dep.data/raw"] == "f00.dir"
    assert "dvc.dep.src" not in tags and len(tags["dvc.lock.md5"]) == 32
    assert dvc_lineage(tmp_path / "elsewhere", "mine") == {}


def test_stage_run_logs_params_tags_metrics_to_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AESFORMER_FLOW_RUN_ID", "flow-123")
    root = _repo(tmp_path)
    cfg = TrackingConfig(experiment="t-exp")
    with stage_run("mine", cfg, CorpusConfig(videos=3), root=root) as run:
        log_metrics({"pairs": 5, "nested": {"x": 1.5}, "name": "text"})
        run_id = run.info.run_id
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlruns.db")
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params["mine.videos"] == "3"
    assert got.data.tags["aesformer.stage"] == "mine"
    assert got.data.tags["dvc.dep.data/raw"] == "f00.dir"
    assert got.data.tags["prefect.flow_run_id"] == "flow-123"
    assert "git.dirty" in got.data.tags
    assert got.data.metrics == {"pairs": 5.0, "nested.x": 1.5}
    exp = client.get_experiment_by_name("t-exp")
    assert exp.artifact_location == (root / "mlartifacts").resolve().as_uri()


def test_stage_run_marks_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = TrackingConfig(experiment="t-fail")
    with pytest.raises(RuntimeError), stage_run("corpus", cfg, root=tmp_path) as run:
        run_id = run.info.run_id
        raise RuntimeError("boom")
    from mlflow import MlflowClient

    assert MlflowClient(f"sqlite:///{tmp_path}/mlruns.db").get_run(run_id).info.status == "FAILED"


def test_disabled_tracking_yields_none(tmp_path):
    with stage_run("corpus", TrackingConfig(enabled=False), root=tmp_path) as run:
        assert run is None
    assert not (tmp_path / "mlruns.db").exists()


def test_numeric_items_keeps_numbers_not_numeric_looking_strings():
    from aesformer.tracking import numeric_items

    got = numeric_items({"a": 1, "b": {"c": 2.5, "d": "1234"}, "ok": True, "key": "12e4"})
    assert got == {"a": 1.0, "b.c": 2.5}
