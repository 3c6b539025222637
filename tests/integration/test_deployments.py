"""prefect.yaml deployed to a real ``prefect server`` and run by a real process worker.

The server (SQLite, its own PREFECT_HOME) and the worker run on 127.0.0.1 as subprocesses in
their own process groups and are stopped by PID. ``infra/prefect/register.sh`` (what
``make deploy`` runs) creates the pools, their concurrency limits and the variables, and
deploys every deployment of prefect.yaml; ``run_deployment`` of the release deployment on a
small repository then clones it at the registered commit (the pull steps), writes the DVC
remote, builds release 0.1.0 of the 3-video sample corpus in the clone (stages up to
``release``, commit, tag, ``dvc push``, MLflow dataset) and ends Completed, with its MLflow
runs tagged with the flow run id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.test_pipeline_flow import small_repo
from tests.servers import free_port, http_ok, process, wait_until

pytestmark = pytest.mark.integration


def _deployable_repo(root: Path, remote: Path) -> Path:
    """The small pipeline repo plus what a deployment needs: flows/, prefect.yaml, the script."""
    small_repo(root)
    shutil.copytree(REPO / "flows", root / "flows", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "prefect.yaml", root / "prefect.yaml")
    (root / "infra/prefect").mkdir(parents=True)
    for name in ("register.sh", "kubernetes-gpu.json"):
        shutil.copy2(REPO / "infra/prefect" / name, root / "infra/prefect" / name)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["remote"]["url"] = str(remote)  # outside the per-run clone
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "deployable"], cwd=root, check=True)
    return root


def _kill_flow_run_processes(api: str) -> None:
    """The process worker starts each flow run in its own session: a run still alive when the
    test ends (a timeout, a failure) is killed by its process group, from the PID the worker
    recorded on the flow run (``infrastructure_pid`` = ``host:pid``)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    for run in runs:
        pid = (run.infrastructure_pid or "").rpartition(":")[2]
        if not pid.isdigit() or (run.state is not None and run.state.is_final()):
            continue  # no process, or one that has exited (its PID may be reused)
        cmdline = Path(f"/proc/{pid}/cmdline")
        with contextlib.suppress(OSError):
            if b"prefect" in cmdline.read_bytes():  # still the flow run's process
                os.killpg(int(pid), signal.SIGKILL)


def test_deployment_runs_on_a_process_worker(tmp_path):
    repo = _deployable_repo(tmp_path / "repo", tmp_path / "dvc-remote")
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    bindir = str(Path(sys.executable).parent)
    env = {
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PATH": bindir + os.pathsep + os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns.db'}",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.invalid",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.invalid",
    }
    server_cmd = [bindir + "/prefect", "server", "start", "--host", "127.0.0.1", "--port"]
    with process(
        [*server_cmd, str(port)], tmp_path / "server.log", env=env, cwd=tmp_path
    ) as server:
        wait_until(lambda: http_ok(f"{api}/health"), 120, "prefect server", server)
        registered = subprocess.run(
            [str(repo / "infra/prefect/register.sh")],
            cwd=repo,
            env={
                **os.environ,
                **env,
                "POOL_TYPE": "process",
                "GPU_SLOTS": "2",
                "GIT_REPOSITORY": str(repo),
            },
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert registered.returncode == 0, registered.stdout[-3000:] + registered.stderr[-3000:]

        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            gpu = client.read_work_pool("aesformer-gpu")
            assert (gpu.type, gpu.concurrency_limit) == ("process", 2)
            assert client.read_variable_by_name("aesformer_git_commit").value == commit
            names = {d.name for d in client.read_deployments()}
            assert names == {
                "release",
                "pipeline",
                "train-thinker",
                "train-editor",
                "evaluate",
                "promote",
            }

        # the server accepts the versioned Kubernetes GPU template (it checks placeholders)
        k8s = subprocess.run(
            [
                *[bindir + "/prefect", "work-pool", "create", "gpu-k8s-check"],
                *["--type", "kubernetes", "--base-job-template"],
                str(REPO / "infra/prefect/kubernetes-gpu.json"),
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert k8s.returncode == 0, k8s.stdout[-2000:] + k8s.stderr[-2000:]
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            template = client.read_work_pool("gpu-k8s-check").base_job_template
        assert template["variables"]["properties"]["gpu_count"]["default"] == 1

        worker_cmd = [bindir + "/prefect", "worker", "start", "--pool", "aesformer-cpu"]
        with process(
            [*worker_cmd, "--type", "process"], tmp_path / "worker.log", env=env, cwd=tmp_path
        ):
            from prefect.deployments import run_deployment

            try:
                with temporary_settings({PREFECT_API_URL: api}):
                    run = run_deployment(
                        "aesformer-release/release",
                        parameters={"version": "0.1.0"},
                        timeout=420,
                        poll_interval=2,
                    )
            finally:
                _kill_flow_run_processes(api)
            log = (tmp_path / "worker.log").read_text()
            assert run.state is not None and run.state.is_completed(), f"{run.state}\n{log[-4000:]}"
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id])
                )
            )
        # release runs the stages as a sub-flow (the pipeline flow) of the deployment's run
        assert [c.name for c in children] and {c.flow_id for c in children} != {run.flow_id}
        flow_run_ids = [str(run.id), *(str(c.id) for c in children)]
    # the pull steps ran in order in the run's own clone, then the release stages
    steps = [
        line.split("Executing deployment step: ")[1].strip()
        for line in log.splitlines()
        if "Executing deployment step: " in line
    ]
    assert steps == ["git_clone", "set_working_directory", "run_shell_script", "run_shell_script"]
    assert f"DVC remote 'local' -> {tmp_path / 'dvc-remote'}" in log
    assert "release data-v0.1.0: released" in log

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name("aesformer").experiment_id
    runs = [
        r
        for i in flow_run_ids
        for r in client.search_runs([experiment], f"tags.`prefect.flow_run_id` = '{i}'")
    ]
    stages = {r.data.tags["aesformer.stage"] for r in runs}
    assert {"corpus", "mine", "split", "gate", "release"} <= stages
    assert {
        r.data.tags["git.commit"] for r in runs if r.data.tags["aesformer.stage"] == "corpus"
    } == {commit}  # the clone is at the registered commit
    datasets = {d.dataset.name for r in runs for d in r.inputs.dataset_inputs}
    assert "aesrecon-0.1.0" in datasets
    assert any((tmp_path / "dvc-remote").rglob("*.dir"))  # dvc push reached the shared remote
    assert not (repo / "data/raw").exists()  # nothing ran in the source repository
    # the release tag (and the pointer commit it names) came back from the clone
    tags = subprocess.run(["git", "tag", "-l"], cwd=repo, capture_output=True, text=True)
    assert tags.stdout.split() == ["data-v0.1.0"]
    pointers = subprocess.run(
        ["git", "show", "data-v0.1.0:dvc.lock"], cwd=repo, capture_output=True, text=True
    )
    assert "data/release" in pointers.stdout
