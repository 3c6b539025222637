"""The Prefect pipeline flow driving real DVC stages, tracked in a real MLflow SQLite store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aesformer.orchestration import StageFailed
from aesformer.storage import dvc
from tests.conftest import REPO
from tests.factories import MINING_CORPUS

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]


def small_repo(root: Path, dvc_yaml: dict | None = None) -> Path:
    """A copy of the project's pipeline wiring with a 3-video corpus, in its own git+DVC repo."""
    root.mkdir(parents=True)
    # every stage's code: dvc.yaml deps name src/aesformer/<package> folders
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    # three small videos: the fewest that fill train/val/test, so the gate can pass
    params["corpus"].update(MINING_CORPUS.model_dump(mode="json", exclude={"seed"}), videos=3)
    params["orchestration"]["retries"] = 0
    params["sft"].update(max_steps=4, save_steps=2, eval_limit=1, eval_max_new_tokens=16)
    params["editor"].update(
        max_steps=4, save_steps=2, val_every=2, val_pairs=1, val_inference_steps=2, evidence_steps=2
    )
    params["eval"].update(grid_items=1)
    for rule in params["promote"]["rules"]:  # a 4-step SFT writes no well-formed plan yet
        if rule["metric"] == "plan_format_validity":
            rule["minimum"] = None
    params["grpo"].update(
        max_steps=1, num_generations=2, batch_size=2, max_completion_length=16, eval_prompts=1
    )
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    wiring = dvc_yaml or yaml.safe_load((REPO / "dvc.yaml").read_text())
    (root / "dvc.yaml").write_text(yaml.safe_dump(wiring, sort_keys=False))
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for key, value in (("user.name", "Test"), ("user.email", "test@example.invalid")):
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
    dvc(["init", "-q"], root)
    (root / ".gitignore").write_text("/.prefect/\n/mlruns.db\n/mlartifacts/\n/.dvc-remote/\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "pipeline"], cwd=root, check=True)
    return root


def artifact_markdown(key: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,  # the newest first
        )
    assert found, f"no Prefect artifact {key!r}"
    return found[0].data


def test_pipeline_runs_stages_then_is_up_to_date(tmp_path):
    from flows.pipeline import pipeline

    root = small_repo(tmp_path / "repo")
    first = pipeline(root=str(root))
    stages = [
        *["models", "corpus", "mine", "align", "mine_eval", "annotate", "split", "release"],
        *["sft", "grpo", "editor", "eval"],
    ]
    assert [r["stage"] for r in first] == stages
    assert all(r["ran"] for r in first)
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(stages)
    assert (root / "data/raw/manifest.jsonl").read_text().count("\n") == 3
    mined = json.loads((root / "data/mined/report.json").read_text())["summary"]
    assert mined["videos_mined"] == 3 and mined["pairs"] >= 3
    assert (root / "data/aligned/pairs.jsonl").is_file()
    metrics = json.loads((root / "reports/mining/metrics.json").read_text())
    assert 0.0 <= metrics["precision"] <= 1.0 and "ssim_mean" in metrics
    shown = dvc(["metrics", "show", "--json"], root).stdout
    assert "reports/mining/metrics.json" in shown
    assert (root / "models/base/thinker").is_dir() and (root / "models/base/editor").is_dir()

    corpus_md5 = lock["stages"]["corpus"]["outs"][0]["md5"]
    assert corpus_md5 in artifact_markdown("stage-corpus")
    gate_docs = (root / "reports/gate/index.html").resolve().as_uri()
    assert gate_docs in artifact_markdown("stage-split")  # the gate's data docs are linked

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlruns.db")
    runs = client.search_runs([client.get_experiment_by_name("aesformer").experiment_id])
    assert sorted(r.data.tags["aesformer.stage"] for r in runs) == sorted(
        [
            *["models", "corpus", "mine", "align", "mine-eval", "annotate", "split", "gate"],
            *["release", "sft", "grpo", "editor", "eval"],
        ]
    )
    assert all(r.info.status == "FINISHED" and r.data.tags.get("prefect.flow_run_id") for r in runs)

    second = pipeline(root=str(root))
    assert not any(r["ran"] for r in second)
    assert len(client.search_runs([runs[0].info.experiment_id])) == 13  # nothing re-ran
    version = client.get_model_version_by_alias("aesthinker", "latest")
    assert version.tags["stage"] == "grpo" and version.tags["release_version"].startswith(
        "unreleased"
    )
    assert (
        client.get_model_version("aesthinker", str(int(version.version) - 1)).tags["stage"] == "sft"
    )
    grpo = json.loads((root / "reports/thinker/grpo.json").read_text())
    assert grpo["global_step"] == 1 and 0.0 <= grpo["grpo_reward"] <= 1.0
    editor = client.get_model_version_by_alias("aeseditor", "latest")
    assert editor.tags["stage"] == "editor"
    assert json.loads((root / "reports/editor/metrics.json").read_text())["global_step"] == 4
    # `aesformer plan` loads the registered model and generates (a 4-step model: not a plan yet)
    image = next((root / "data/release/images/poor_images").iterdir())
    planned = subprocess.run(
        [sys.executable, "-m", "aesformer.cli", "plan", str(image)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert planned.returncode in (0, 2) and "Traceback" not in planned.stderr
    assert planned.stdout.strip() or "not a well-formed plan" in planned.stderr
    assert yaml.safe_load((root / "dvc.lock").read_text()) == lock

    # the release flow: stages up to date, pointers committed, tag + push + MLflow dataset
    from flows.release import release

    out = release("0.1.0", root=str(root))
    assert out["status"] == "released" and out["tag"] == "data-v0.1.0"
    tags = subprocess.run(["git", "tag", "-l"], cwd=root, capture_output=True, text=True).stdout
    assert tags.split() == ["data-v0.1.0"]
    assert any((root / ".dvc-remote").rglob("*.dir"))  # the release's DVC objects were pushed
    logged = [
        r for r in client.search_runs([runs[0].info.experiment_id]) if r.inputs.dataset_inputs
    ]
    datasets = {d.dataset.name: d.dataset for r in logged for d in r.inputs.dataset_inputs}
    assert datasets["aesrecon-0.1.0"].digest == out["digest"]
    # the sft and grpo runs recorded the same data (before it had a version) as training input
    assert datasets["aesrecon-unreleased"].digest == out["digest"]
    assert "data-v0.1.0" in artifact_markdown("data-release")
    assert release("0.1.0", root=str(root))["status"] == "unchanged"

    # eval ran on the registered pair; the first promotion moves staging to it
    report = json.loads((root / "reports/eval/metrics.json").read_text())
    first_pair = {"aesthinker": str(version.version), "aeseditor": "1"}
    assert report["candidate"]["versions"] == first_pair and report["staging"] is None
    assert set(report["systems"]) == {
        *["identity", "editor_no_plan", "generic_plan", "gt_plan", "pipeline"]
    }
    assert report["systems"]["identity"]["edit_distance"] == 0.0
    assert "| pipeline |" in (root / "reports/eval/table.md").read_text()
    assert "reports/eval/metrics.json" in dvc(["metrics", "show", "--json"], root).stdout
    assert len(list((root / "reports/eval/grids").glob("*.png"))) == 1
    from flows.promote import promote

    decided = promote(run_eval=False, root=str(root))
    assert decided["promote"] and decided["first"]
    staged = {n: str(client.get_model_version_by_alias(n, "staging").version) for n in first_pair}
    assert staged == first_pair
    assert promote(run_eval=False, root=str(root))["unchanged"]
    # two-stage inference with the staging pair (the CLI's defaults)
    rebuilt = subprocess.run(
        [sys.executable, "-m", "aesformer.cli", "reconstruct", str(image), "-o", "rebuilt"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "1 reconstructed" in rebuilt.stdout and "editor aeseditor v1" in rebuilt.stdout
    for suffix in (".png", ".plan.txt", ".side.png"):
        assert (root / "rebuilt" / f"{image.stem}{suffix}").is_file()

    # a retrained editor: eval re-runs (its input changed), against the staging pair
    from aesformer.evaluation.promotion import decide
    from aesformer.orchestration import set_params

    set_params(root / "params.yaml", {"editor.seed": 1})
    again = pipeline(root=str(root), stages=["editor", "eval"])
    assert [r["ran"] for r in again] == [True, True]
    report = json.loads((root / "reports/eval/metrics.json").read_text())
    assert report["candidate"]["versions"] == {**first_pair, "aeseditor": "2"}
    assert report["staging"]["versions"] == first_pair
    assert "| staging |" in (root / "reports/eval/table.md").read_text()
    second = promote(run_eval=False, root=str(root))
    from aesformer.config import load_params

    expected = decide(
        report["candidate"]["metrics"], report["staging"]["metrics"],
        load_params(root / "params.yaml").promote,
    )  # fmt: skip
    assert second["promote"] == expected.promote and second["message"] == expected.message()
    now = str(client.get_model_version_by_alias("aeseditor", "staging").version)
    assert now == ("2" if expected.promote else "1")
    tags = client.get_model_version("aeseditor", "2").tags
    assert tags["promotion.decision"] == ("promoted" if expected.promote else "refused")


def test_failing_stage_fails_the_flow_and_keeps_earlier_outputs(tmp_path):
    from flows.pipeline import pipeline

    wiring = {
        "stages": {
            "first": {
                "cmd": "python -c \"open('first.txt','w').write('kept')\"",
                "outs": ["first.txt"],
            },
            "broken": {
                "cmd": "python -c \"import sys; print('bad input: x.mp4'); sys.exit(3)\"",
                "deps": ["first.txt"],
            },
        }
    }
    root = small_repo(tmp_path / "repo", wiring)
    with pytest.raises(StageFailed, match=r"stage 'broken' failed \(dvc exit \d+\)"):
        pipeline(root=str(root))
    assert (root / "first.txt").read_text() == "kept"
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline(root=str(root), stages=["nope"])
