"""Reward telemetry in MLflow: per-component means, group spread, failures, completions tables.

The GRPO stage adds :class:`RewardLoggingCallback` to its ``GRPOTrainer``; after every
optimizer step that scored completions it logs :meth:`RewardStats.flush` of the process-0 share:

- metrics at ``step = global_step``: ``reward/<c>/mean``, ``reward/<c>/group_std`` (mean
  within-group standard deviation), ``reward/<c>/frac_zero_std_groups``,
  ``reward/<c>/failures`` (this step) and ``reward/<c>/failures_total`` for ``c`` in format,
  alignment, creativity and the weighted ``total``;
- a table ``completions/step_<step>.json`` (``mlflow.log_table``): step, prompt, completion,
  group, each component's reward and the weighted total.

MLflow lists a run's tables in one run tag (``mlflow.loggedArtifacts``) of at most
``MAX_TAG_VAL_LENGTH`` (8000) characters, about 135 step tables; ``log_table`` past that
truncates the tag and the next call fails parsing it (mlflow#13170, mlflow#11874; a GRPO run
died at step 136 on it). So once the tag has no room for another entry, the tables are
logged with ``mlflow.log_dict`` in the same layout (``{"columns": [...], "data": [...]}``,
readable with ``pandas.read_json(path, orient="split")``), not listed in the UI's table view,
and a warning says so once per run. A failure to log never stops training: it is logged as a
warning and the step goes on.

Logs into the active MLflow run (the stage's ``tracking.stage_run``) or ``run_id``; without
either it logs nothing. Only the main process logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS
from mlflow.utils.validation import MAX_TAG_VAL_LENGTH
from transformers import TrainerCallback

from aesformer.rewards.functions import RewardStats

log = logging.getLogger("aesformer.rewards")
TABLE_DIR = "completions"
MAX_CELL_CHARS = 4000


def log_reward_metrics(metrics: Mapping[str, float], step: int, run_id: str | None = None) -> None:
    """Log the reward metrics of one step."""
    if metrics:
        mlflow.log_metrics(dict(metrics), step=step, run_id=run_id)


def log_completions_table(
    rows: Sequence[Mapping[str, Any]], step: int, run_id: str | None = None
) -> str | None:
    """Log completions as ``completions/step_<step>.json``; returns the artifact file name."""
    if not rows:
        return None
    columns: list[str] = ["step"]
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    data: dict[str, list[Any]] = {c: [] for c in columns}
    for row in rows:
        data["step"].append(step)
        for c in columns[1:]:
            value = row.get(c)
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                value = value[: MAX_CELL_CHARS - 1] + "…"
            data[c].append(value)
    artifact = f"{TABLE_DIR}/step_{step:06d}.json"
    run_id = run_id or _active_run_id()
    if run_id not in _index_full and table_index_has_room(artifact, run_id):
        try:
            mlflow.log_table(data=data, artifact_file=artifact, run_id=run_id)
            return artifact
        except MlflowException as exc:  # e.g. a server with a shorter tag limit (older: 5000)
            log.debug("rewards: log_table of %s failed: %s", artifact, exc)
    table = {"columns": columns, "data": [list(r) for r in zip(*data.values(), strict=True)]}
    mlflow.log_dict(table, artifact, run_id=run_id)
    _mark_index_full(run_id)
    return artifact


def _active_run_id() -> str:
    run = mlflow.active_run()
    if run is None:
        raise RuntimeError("no active MLflow run and no run_id")
    return run.info.run_id


def table_index_has_room(artifact: str, run_id: str | None = None) -> bool:
    """Whether MLflow's table index tag of the run can list ``artifact`` (see module docstring).

    Already listed: yes (``log_table`` does not add it twice). An unreadable tag (truncated by
    an earlier writer): no.
    """
    run = MlflowClient().get_run(run_id or _active_run_id())
    try:
        listed = json.loads(run.data.tags.get(MLFLOW_LOGGED_ARTIFACTS, "[]"))
    except json.JSONDecodeError:
        return False
    entry = {"path": artifact, "type": "table"}
    if entry in listed:
        return True
    return len(json.dumps([*listed, entry])) <= MAX_TAG_VAL_LENGTH


#: Runs whose table list is full: their later tables go straight to ``log_dict``.
_index_full: set[str] = set()


def _mark_index_full(run_id: str) -> None:
    if run_id not in _index_full:
        _index_full.add(run_id)
        log.warning(
            "rewards: MLflow's table list of run %s is full (%d-character tag); later "
            "completion tables are logged as JSON artifacts under %s/ (same layout, not listed "
            "in the UI's table view)",
            run_id,
            MAX_TAG_VAL_LENGTH,
            TABLE_DIR,
        )


def log_reward_step(
    stats: RewardStats, step: int, *, table_rows: int = 16, run_id: str | None = None
) -> dict[str, float]:
    """Flush ``stats`` and log its metrics and up to ``table_rows`` completions at ``step``."""
    metrics, rows = stats.flush(limit=table_rows)
    log_reward_metrics(metrics, step, run_id)
    if table_rows:
        log_completions_table(rows, step, run_id)
    return metrics


class RewardLoggingCallback(TrainerCallback):
    """Logs the rewards' :class:`RewardStats` to MLflow after each step (see module docstring)."""

    def __init__(self, stats: RewardStats, *, table_rows: int = 16, run_id: str | None = None):
        self.stats = stats
        self.table_rows = table_rows
        self.run_id = run_id
        self._warned = False

    def _can_log(self, state: Any) -> bool:
        if not getattr(state, "is_world_process_zero", True):
            self.stats.flush()  # other ranks drop their share
            return False
        if self.run_id is None and mlflow.active_run() is None:
            if not self._warned:
                log.warning("rewards: no active MLflow run; reward metrics are not logged")
                self._warned = True
            self.stats.flush()
            return False
        return True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.stats.pending and self._can_log(state):
            try:
                log_reward_step(
                    self.stats, state.global_step, table_rows=self.table_rows, run_id=self.run_id
                )
            except Exception as exc:  # telemetry must never stop training
                self.stats.flush()
                log.warning(
                    "rewards: logging step %d to MLflow failed (training goes on): %s: %s",
                    state.global_step,
                    type(exc).__name__,
                    exc,
                )
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        return self.on_step_end(args, state, control, **kwargs)
