"""prefect.yaml and the versioned Kubernetes GPU base job template (infra/prefect/)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.unit

TEMPLATE = REPO / "infra/prefect/kubernetes-gpu.json"
PLACEHOLDER = re.compile(r"\{\{\s*([\w.-]+)\s*\}\}")


def _template() -> dict:
    return json.loads(TEMPLATE.read_text())


def _placeholders(node) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(_placeholders(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(_placeholders(v) for v in node)) if node else set()
    return set(PLACEHOLDER.findall(node)) if isinstance(node, str) else set()


def test_template_references_every_variable_it_exposes_and_nothing_else():
    tpl = _template()
    exposed = set(tpl["variables"]["properties"])
    used = _placeholders(tpl["job_configuration"])
    assert exposed - used == set(), "variables the job never uses"
    assert used - exposed == set(), "placeholders with no variable"


def _render(job_variables: dict) -> dict:
    """The Job manifest a worker would submit: defaults, then the deployment's variables."""
    from prefect.utilities.templating import apply_values

    tpl = _template()
    values = {k: v["default"] for k, v in tpl["variables"]["properties"].items() if "default" in v}
    values.update(name="flow-run-x", command="prefect flow-run execute", **job_variables)
    return apply_values(tpl["job_configuration"], values)["job_manifest"]


def test_rendered_job_requests_gpus_shm_node_selector_and_tolerations():
    manifest = _render({"gpu_count": 8, "shm_size": "64Gi"})
    pod = manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert container["resources"]["requests"]["nvidia.com/gpu"] == 8
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "dshm")
    assert mount["mountPath"] == "/dev/shm"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert manifest["metadata"]["generateName"] == "flow-run-x-"
    assert not _placeholders(manifest) - {"cluster_config"}  # every value filled


def _prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text())


def test_deployments_pools_schedules_and_pull_steps():
    config = _prefect_yaml()
    deployments = {d["name"]: d for d in config["deployments"]}
    assert set(deployments) == {
        "release",
        "pipeline",
        "train-thinker",
        "train-editor",
        "evaluate",
        "promote",
    }
    pools = {name: d["work_pool"]["name"] for name, d in deployments.items()}
    assert pools["release"] == pools["pipeline"] == pools["promote"] == "aesformer-cpu"
    for name in ("train-thinker", "train-editor", "evaluate"):
        assert pools[name] == "aesformer-gpu"
        assert deployments[name]["work_pool"]["job_variables"]["gpu_count"] >= 1
        assert deployments[name]["parameters"]["isolate"] is False  # the clone is per run
        assert deployments[name]["parameters"]["push"] is True  # results outlive the clone
    gpu_variables = set(_template()["variables"]["properties"])
    for d in deployments.values():
        assert set(d["work_pool"].get("job_variables") or {}) <= gpu_variables
        assert all(s.get("active") is False for s in d.get("schedules") or [])
        steps = [next(iter(step)) for step in d["pull"]]
        assert steps[0] == "prefect.deployments.steps.git_clone"
        clone = d["pull"][0]["prefect.deployments.steps.git_clone"]
        assert clone["commit_sha"] == "{{ prefect.variables.aesformer_git_commit }}"
        scripts = [s["prefect.deployments.steps.run_shell_script"]["script"] for s in d["pull"][2:]]
        assert scripts[0] == "aesformer remote apply"
        assert scripts[-1].startswith("dvc pull")
    assert (
        "data/release"
        in deployments["train-thinker"]["pull"][-1]["prefect.deployments.steps.run_shell_script"][
            "script"
        ]
    )
    assert "version" not in deployments["release"]["parameters"]  # required per run
    assert deployments["release"]["parameters"]["push_tag"] is True  # the tag outlives the clone


@pytest.mark.parametrize(
    "name", ["release", "pipeline", "train-thinker", "train-editor", "evaluate", "promote"]
)
def test_entrypoints_load_and_parameters_match_the_flow(name):
    from prefect.flows import load_flow_from_entrypoint

    deployment = next(d for d in _prefect_yaml()["deployments"] if d["name"] == name)
    flow = load_flow_from_entrypoint(str(REPO / deployment["entrypoint"]))
    accepted = set(flow.parameters.properties)
    assert set(deployment["parameters"]) <= accepted


def test_full_scale_profile_names_the_deployment_pools():
    from aesformer.config import load_params

    orch = load_params(REPO / "params.yaml", profile="full-scale").orchestration
    pools = {d["work_pool"]["name"] for d in _prefect_yaml()["deployments"]}
    assert pools == {orch.work_pool, orch.gpu_work_pool}
    register = (REPO / "infra/prefect/register.sh").read_text()
    for pool in pools:
        assert f"prefect work-pool create {pool} " in register
        assert f'set-concurrency-limit {pool} "$' in register
