"""Stage runs against a real ``mlflow server`` on 127.0.0.1 (SQLite and PostgreSQL backends)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from aesformer.config import CorpusConfig, TrackingConfig
from aesformer.tracking import log_metrics, stage_run
from tests.servers import mlflow_server

pytestmark = pytest.mark.integration

PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


@pytest.fixture
def postgres_db():
    """A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust auth)."""
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"aesformer_test_{uuid.uuid4().hex[:8]}"
    try:
        conn = psycopg2.connect(connect_timeout=3, **PG_ADMIN)
    except psycopg2.OperationalError as exc:  # pragma: no cover - CI and dev machines run it
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def _exercise(server_url: str, root: Path, monkeypatch):
    """A stage run logged through the server, read back; returns the finished run."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_url)
    cfg = TrackingConfig(experiment="server-test")
    with stage_run("corpus", cfg, CorpusConfig(videos=2), root=root) as run:
        log_metrics({"videos": 2, "events": 7})
        import mlflow

        mlflow.log_text("hello", "notes/hello.txt")
        run_id = run.info.run_id
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server_url)
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    assert got.data.params["corpus.videos"] == "2"
    assert got.data.metrics["events"] == 7.0
    assert got.data.tags["aesformer.stage"] == "corpus"
    local = client.download_artifacts(run_id, "notes/hello.txt", str(root))
    assert Path(local).read_text() == "hello"
    return got


def test_stage_run_on_mlflow_server_sqlite(tmp_path, monkeypatch):
    with mlflow_server(tmp_path, f"sqlite:///{tmp_path}/server.db") as url:
        run = _exercise(url, tmp_path, monkeypatch)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server


def test_stage_run_on_mlflow_server_postgres(tmp_path, monkeypatch, postgres_db):
    with mlflow_server(tmp_path, postgres_db) as url:
        run = _exercise(url, tmp_path, monkeypatch)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
