"""flows/promote.py on Prefect's real local server and a real MLflow registry (SQLite)."""

from __future__ import annotations

import json

import pytest
from mlflow import MlflowClient

from aesformer.errors import AesformerError
from aesformer.evaluation.promotion import PromotionError, alias_version
from tests.integration.test_pipeline_flow import artifact_markdown
from tests.unit.test_evaluation_promotion import GOOD, pair, project, report

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(tmp_path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlruns.db")
    for name in ("aesthinker", "aeseditor"):
        client.create_registered_model(name)
        for _ in range(2):
            client.create_model_version(name, source=str(tmp_path / name), run_id=None)
    return client


def test_promote_flow_promotes_refuses_and_publishes_the_decision(
    prefect_server, registry, tmp_path
):
    from flows.promote import promote

    root = project(tmp_path, registry.tracking_uri)
    path = root / "reports/eval/metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report(pair("1", "1"), GOOD)))

    first = promote(run_eval=False, root=str(root))
    assert first["promote"] and first["first"]
    assert alias_version(registry, "aesthinker", "staging") == "1"
    shown = artifact_markdown("promotion")
    assert "promoted (first promotion)" in shown and "| aesthetic | 0.6 | – | – | yes |" in shown

    worse = {**GOOD, "identity": 0.80}
    path.write_text(json.dumps(report(pair("2", "2"), worse, GOOD, pair("1", "1"))))
    refused = promote(run_eval=False, root=str(root))
    assert not refused["promote"] and "identity 0.8 vs staging 0.9" in refused["message"]
    assert alias_version(registry, "aeseditor", "staging") == "1"
    assert "| identity | 0.8 | 0.9 | 0.88 | no |" in artifact_markdown("promotion")

    with pytest.raises(PromotionError, match="the eval report is for"):
        promote(run_eval=False, thinker="1", root=str(root))
    with pytest.raises(AesformerError, match="no stage 'eval' to run"):
        promote(root=str(root))
