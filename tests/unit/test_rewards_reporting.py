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


def test_tables_past_mlflows_tag_limit_are_still_logged_and_never_crash(run, caplog):
    """mlflow#13170: log_table lists every table in one run tag of at most 8000 characters;
    past ~135 step tables the tag was truncated and the next log_table raised
    JSONDecodeError (a GRPO run died at step 136). The tables go on as JSON artifacts."""
    from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS
    from mlflow.utils.validation import MAX_TAG_VAL_LENGTH

    from aesformer.rewards.reporting import log_completions_table

    client, run_id = run
    rows = [{"prompt": "p", "completion": "c", "group": 0, "total": 0.5}]
    with caplog.at_level("WARNING", logger="aesformer.rewards"):
        for step in range(1, 151):
            assert log_completions_table(rows, step) == f"completions/step_{step:06d}.json"
    tag = client.get_run(run_id).data.tags[MLFLOW_LOGGED_ARTIFACTS]
    listed = json.loads(tag)  # still whole JSON
    assert len(tag) <= MAX_TAG_VAL_LENGTH and 100 < len(listed) < 150
    assert listed[-1] == {"path": f"completions/step_{len(listed):06d}.json", "type": "table"}
    # every step has its table, listed or not, in the same layout
    for step in (1, len(listed), len(listed) + 1, 150):
        table = _table(client, run_id, step)
        assert table["columns"] == ["step", "prompt", "completion", "group", "total"]
        assert table["data"] == [[step, "p", "c", 0, 0.5]]
    full = [r for r in caplog.records if "table list" in r.getMessage()]
    assert len(full) == 1  # said once per run
    # a listed table is still read by MLflow's own loader
    exp = client.get_run(run_id).info.experiment_id
    loaded = client.load_table(exp, "completions/step_000002.json", run_ids=[run_id])
    assert loaded["step"].tolist() == [2]


def test_a_failing_mlflow_never_stops_the_training_step(run, caplog):
    stats = RewardStats(weights={"format": 0.1, "alignment": 0.5, "creativity": 0.4})
    _fill(stats)
    callback = RewardLoggingCallback(stats, table_rows=2, run_id="no-such-run")
    with caplog.at_level("WARNING", logger="aesformer.rewards"):
        control = object()
        assert callback.on_step_end(None, SimpleNamespace(global_step=7), control) is control
    assert not stats.pending
    assert any("logging step 7 to MLflow failed" in r.getMessage() for r in caplog.records)


def test_a_server_refusing_the_table_tag_gets_json_tables(run, monkeypatch, caplog):
    """An older tracking server refuses a table tag over 5000 characters (mlflow#11874) after
    the file is written: the table is written again with log_dict, and later steps skip
    log_table. (The refusal is simulated: no such server runs here.)"""
    from mlflow.exceptions import MlflowException

    from aesformer.rewards import reporting

    client, run_id = run
    calls = []

    def refuse(*args, **kwargs):
        calls.append(kwargs["artifact_file"])
        raise MlflowException("Tag value '[...' had length 5031, exceeded length limit of 5000")

    monkeypatch.setattr(reporting.mlflow, "log_table", refuse)
    rows = [{"prompt": "p", "completion": "c"}]
    with caplog.at_level("WARNING", logger="aesformer.rewards"):
        reporting.log_completions_table(rows, 1)
        reporting.log_completions_table(rows, 2)
    assert calls == ["completions/step_000001.json"]  # step 2 did not try again
    assert _table(client, run_id, 2)["data"] == [[2, "p", "c"]]
    assert sum("table list" in r.getMessage() for r in caplog.records) == 1
