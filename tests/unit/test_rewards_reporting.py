"""Reward telemetry into a real SQLite MLflow store: metrics per step, failures, tables."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pytest
from mlflow import MlflowClient

from aesformer.rewards import RewardLoggingCallback, RewardStats, log_reward_step

pytestmark = pytest.mark.unit


@pytest.fixture
def run(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("rewards", artifact_location=(tmp_path / "art").as_uri())
    with mlflow.start_run(experiment_id=exp) as active:
        yield MlflowClient(uri), active.info.run_id
    mlflow.set_tracking_uri(None)


def _fill(stats: RewardStats, scale: float = 1.0) -> None:
    common = {
        "prompts": ["p0", "p0", "p1", "p1"],
        "completions": ["a", "b", "c", "d"],
        "groups": [0, 0, 1, 1],
    }
    stats.record("format", [1.0, 1.0, 0.0, 1.0], **common)
    stats.record("alignment", [scale * v for v in (0.9, 0.5, 0.2, 0.2)], **common)
    stats.record("creativity", [0.8, 0.6, 0.0, 0.4], failures=1, **common)


def _table(client: MlflowClient, run_id: str, step: int) -> dict:
    path = client.download_artifacts(run_id, f"completions/step_{step:06d}.json")
    return json.loads(Path(path).read_text())


def test_log_reward_step_writes_metrics_and_a_table(run):
    client, run_id = run
    stats = RewardStats(weights={"format": 0.1, "alignment": 0.5, "creativity": 0.4})
    _fill(stats)
    metrics = log_reward_step(stats, step=3, table_rows=3)
    logged = client.get_run(run_id).data.metrics
    assert logged["reward/alignment/mean"] == pytest.approx(0.45)
    assert logged["reward/creativity/failures"] == 1.0
    assert logged["reward/total/mean"] == pytest.approx(metrics["reward/total/mean"])
    assert "reward/total/group_std" in logged and "reward/alignment/frac_zero_std_groups" in logged
    history = client.get_metric_history(run_id, "reward/alignment/mean")
    assert [m.step for m in history] == [3]
    table = _table(client, run_id, 3)
    assert table["columns"][:4] == ["step", "prompt", "completion", "group"]
    assert len(table["data"]) == 3 and table["data"][0][2] == "a"
    assert not stats.pending


def test_callback_logs_each_step_on_the_main_process_only(run):
    client, run_id = run
    stats = RewardStats(weights={"format": 0.1, "alignment": 0.5, "creativity": 0.4})
    callback = RewardLoggingCallback(stats, table_rows=2)
    main = SimpleNamespace(global_step=1, is_world_process_zero=True)
    _fill(stats)
    callback.on_step_end(None, main, None)
    main.global_step = 2
    callback.on_step_end(None, main, None)  # nothing new: nothing logged
    _fill(stats, scale=0.5)
    main.global_step = 3
    callback.on_step_end(None, main, None)
    history = client.get_metric_history(run_id, "reward/alignment/mean")
    assert [(m.step, round(m.value, 4)) for m in history] == [(1, 0.45), (3, 0.225)]
    failures = client.get_metric_history(run_id, "reward/creativity/failures_total")
    assert [m.value for m in failures] == [1.0, 2.0]
    assert len(_table(client, run_id, 3)["data"]) == 2

    _fill(stats)
    other = SimpleNamespace(global_step=4, is_world_process_zero=False)
    callback.on_step_end(None, other, None)
    assert not stats.pending
    assert [m.step for m in client.get_metric_history(run_id, "reward/alignment/mean")] == [1, 3]


def test_callback_without_a_run_logs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlruns.db")
    try:
        stats = RewardStats()
        _fill(stats)
        RewardLoggingCallback(stats).on_step_end(
            None, SimpleNamespace(global_step=1, is_world_process_zero=True), None
        )
        assert mlflow.active_run() is None and not stats.pending
    finally:
        mlflow.set_tracking_uri(None)
