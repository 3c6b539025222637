"""`aesformer mine`, `align`, `mine-eval` as a user runs them: outputs, MLflow run, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aesformer.corpus.stage import run as run_corpus
from tests.factories import MINING_CORPUS
from tests.unit.test_cli import assert_one_line_error, cli

pytestmark = pytest.mark.unit
TINY = MINING_CORPUS.model_copy(update={"videos": 1, "seed": 0})


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project folder (params + a one-video corpus with manifest) the CLI runs in."""
    root = tmp_path_factory.mktemp("proj")
    (root / "params.yaml").write_text((Path(__file__).parents[2] / "params.yaml").read_text())
    run_corpus(TINY, root / "data" / "raw")
    return root


def test_mine_align_eval_end_to_end_with_mlflow(project):
    mined = cli("mine", "--videos", "data/raw/manifest.jsonl", "--out", "data/mined", cwd=project)
    assert mined.returncode == 0, mined.stderr
    summary = json.loads(mined.stdout)
    assert summary["pairs"] == 2 and summary["videos_mined"] == 1
    aligned = cli("align", "--pairs", "data/mined", "--out", "data/aligned", cwd=project)
    assert aligned.returncode == 0, aligned.stderr
    assert json.loads(aligned.stdout)["pairs_in"] == 2
    annotated = cli("annotate", "--pairs", "data/aligned", "--out", "data/annotated", cwd=project)
    assert annotated.returncode == 0, annotated.stderr
    got = json.loads(annotated.stdout)
    assert got["pairs_out"] == got["pairs_in"] == json.loads(aligned.stdout)["pairs_out"]
    assert (
        "(7) Color and Lighting Adjustment:" in (project / "data/annotated/pairs.jsonl").read_text()
    )
    split = cli("split", "--pairs", "data/annotated", "--out", "data/split", cwd=project)
    assert split.returncode == 0, split.stderr
    # one video cannot fill three splits: the gate fails, names why, quarantines the candidate
    gate = cli("gate", "--split", "data/split", "--docs", "reports/gate", cwd=project)
    assert_one_line_error(gate, "data-quality gate FAILED", "split")
    assert not (project / "data/split").exists()
    (quarantined,) = (project / "data/quarantine").iterdir()
    assert (quarantined / "pairs.jsonl").is_file() and (quarantined / "gate_summary.txt").is_file()
    assert (project / "reports/gate/index.html").is_file()
    metrics = project / "reports" / "m.json"
    ev = cli(
        "mine-eval",
        "--pairs",
        "data/mined",
        "--truth",
        "data/raw",
        "--metrics",
        str(metrics),
        cwd=project,
    )
    assert ev.returncode == 0, ev.stderr
    got = json.loads(metrics.read_text())
    assert (
        got["precision"] == 1.0 and got["recall"] == 1.0 and got["passes_targets"]["precision"] == 1
    )

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/mlruns.db")
    exp = client.get_experiment_by_name("aesformer")
    runs = {r.data.tags["aesformer.stage"]: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"mine", "align", "annotate", "split", "gate", "mine-eval"}
    assert runs["gate"].info.status == "FAILED" and runs["gate"].data.metrics["gate_passed"] == 0
    docs = [a.path for a in client.list_artifacts(runs["gate"].info.run_id, "gate/data_docs")]
    assert "gate/data_docs/index.html" in docs
    mine_run = runs["mine"]
    assert mine_run.data.metrics["pairs"] == 2.0 and "seconds" in mine_run.data.metrics
    assert mine_run.data.params["mine.sample_fps"] == "4.0"
    artifacts = [a.path for a in client.list_artifacts(mine_run.info.run_id, "mine")]
    assert artifacts == ["mine/sample_pairs.png"]
    assert runs["mine-eval"].data.metrics["recall"] == 1.0


def test_missing_inputs_are_one_error_line(project, tmp_path):
    assert_one_line_error(
        cli("mine", "--videos", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), cwd=project),
        "nope",
    )
    assert_one_line_error(
        cli("align", "--pairs", str(tmp_path), "--out", str(tmp_path / "o"), cwd=project),
        "pairs.jsonl",
        "aesformer mine",
    )
    assert_one_line_error(
        cli("annotate", "--pairs", str(tmp_path), "--out", str(tmp_path / "a"), cwd=project),
        "aesformer align",
    )
    assert_one_line_error(
        cli("mine-eval", "--pairs", str(tmp_path / "x"), "--truth", str(tmp_path), cwd=project),
        "no such folder",
    )


def test_mine_exits_2_when_every_video_failed(project, tmp_path):
    vids = tmp_path / "vids"
    vids.mkdir()
    (vids / "a.mp4").write_text("not a video")
    proc = cli("mine", "--videos", str(vids), "--out", str(tmp_path / "o"), cwd=project)
    assert_one_line_error(proc, "every video failed")
    reject = json.loads((tmp_path / "o" / "rejects.jsonl").read_text())
    assert reject["video_id"] == "a" and reject["reason"] == "unreadable"
