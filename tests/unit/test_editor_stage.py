"""Stage editor end to end on the tiny base: cache, training, validation grids, files, re-run."""

from __future__ import annotations

import json

import mlflow
import pytest

from aesformer.config import EditorConfig
from aesformer.editor.stage import INFO_FILE, LORA_FILE, train_editor
from tests.editor_factory import make_release, tiny_editor_base

pytestmark = pytest.mark.unit

CFG = EditorConfig(max_steps=6, save_steps=3, val_every=3, val_inference_steps=2, evidence_steps=2)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("editor-stage")
    release = make_release(root / "release", train=4, val=2)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlruns.db'}")
    experiment = mlflow.create_experiment("editor", artifact_location=(root / "art").as_uri())
    with mlflow.start_run(experiment_id=experiment) as active:
        summary = train_editor(
            CFG, release, tiny_editor_base(), root / "out", root / "cache", metrics=root / "m.json"
        )
    return root, release, summary, active.info.run_id


def test_the_stage_writes_adapter_info_metrics_and_checkpoints(run) -> None:
    root, _, summary, _ = run
    out = root / "out"
    assert (out / LORA_FILE).is_file()
    info = json.loads((out / INFO_FILE).read_text())
    assert info["base_model"] == str(tiny_editor_base())
    assert info["sizes"]["target_area"] == CFG.target_area
    assert len(info["losses"]) == 6 and [v["step"] for v in info["validation"]] == [3, 6]
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-3",
        "checkpoint-6",
    ]
    metrics = json.loads((root / "m.json").read_text())
    assert metrics["global_step"] == 6 and metrics["final_loss"] == info["losses"][-1]
    assert set(metrics["val"]) == {"mse_before", "mse_after", "ssim", "mae"}
    assert summary["cache_misses"] == 6 and summary["train_pairs"] == 4
    assert summary["trainable_parameters"] > 0


def test_validation_grids_and_curves_are_logged_to_mlflow(run) -> None:
    _, _, _, run_id = run
    client = mlflow.tracking.MlflowClient()
    grids = [a.path for a in client.list_artifacts(run_id, "editor/val")]
    assert grids == ["editor/val/step-000003.png", "editor/val/step-000006.png"]
    assert len(client.get_metric_history(run_id, "editor/loss")) == 6
    assert [m.step for m in client.get_metric_history(run_id, "editor/val_ssim")] == [3, 6]


def test_a_rerun_hits_the_cache_and_does_not_retrain(run) -> None:
    root, release, first, _ = run
    again = train_editor(CFG, release, tiny_editor_base(), root / "out", root / "cache")
    assert (again["cache_hits"], again["cache_misses"]) == (6, 0)
    assert again["resumed_from_step"] == 6 and again["global_step"] == 6
    assert again["final_loss"] == first["final_loss"]
