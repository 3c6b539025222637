"""The reward functions inside a real ``trl.GRPOTrainer`` step on the tiny Qwen3-VL base.

One optimizer step on CPU (about 10 s): a two-row image dataset with a ``reference_plan``
column, two generations per prompt, the configured offline judges (embedding + rules), and
:class:`RewardLoggingCallback` writing into a real SQLite MLflow store.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from PIL import Image

from aesformer.config import ModelsConfig, RewardsConfig
from aesformer.plans import NO_CHANGE, PLANNER_INSTRUCTION, Plan, render
from aesformer.rewards import RewardLoggingCallback, RewardStats, build_rewards
from aesformer.zoo import load_thinker, load_thinker_processor
from aesformer.zoo.stage import THINKER_DIR, build_tiny

pytestmark = pytest.mark.integration


def _reference(pose: str) -> str:
    keys = ("aspect_ratio", "composition", "camera", "position", "pose", "focus", "color")
    return render(Plan(**{k: (pose if k == "pose" else NO_CHANGE) for k in keys}))


def test_one_grpo_step_calls_the_rewards_and_logs_them(tmp_path: Path, monkeypatch):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.chdir(tmp_path)
    build_tiny(ModelsConfig(), tmp_path / "models")
    base = tmp_path / "models" / THINKER_DIR
    rng = np.random.default_rng(0)
    photos = [Image.fromarray((rng.random((64, 96, 3)) * 255).astype(np.uint8)) for _ in range(2)]
    dataset = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": PLANNER_INSTRUCTION}]] * 2,
            "image": photos,
            "reference_plan": [_reference("Raise the right arm"), _reference("Lower the chin")],
        }
    )
    stats = RewardStats()
    funcs, weights = build_rewards(RewardsConfig(), stats, group_size=2)
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        use_cpu=True,
        bf16=False,
        report_to="none",
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=8,
        reward_weights=weights,
        save_strategy="no",
        logging_steps=1,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=load_thinker(base),
        processing_class=load_thinker_processor(base),
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        callbacks=[RewardLoggingCallback(stats, table_rows=16)],
    )
    uri = f"sqlite:///{tmp_path}/mlruns.db"
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("grpo", artifact_location=(tmp_path / "art").as_uri())
        with mlflow.start_run(experiment_id=exp) as run:
            trainer.train()
    finally:
        mlflow.set_tracking_uri(None)

    logged = trainer.state.log_history[0]
    assert {"rewards/format/mean", "rewards/alignment/mean", "rewards/creativity/mean"} <= set(
        logged
    )
    client = MlflowClient(uri)
    metrics = client.get_run(run.info.run_id).data.metrics
    for component in ("format", "alignment", "creativity", "total"):
        assert 0.0 <= metrics[f"reward/{component}/mean"] <= 1.0
        assert f"reward/{component}/group_std" in metrics
    assert metrics["reward/alignment/failures_total"] == 0.0
    assert metrics["reward/creativity/failures_total"] == 0.0
    table = json.loads(
        Path(client.download_artifacts(run.info.run_id, "completions/step_000001.json")).read_text()
    )
    assert len(table["data"]) == 4  # two prompts x two generations
    columns = table["columns"]
    assert [row[columns.index("group")] for row in table["data"]] == [0, 0, 1, 1]
    assert {"format", "alignment", "creativity", "reward"} <= set(columns)
