"""infra/k8s/: the stack's manifests build with kustomize, expose nothing outside the cluster,
take every credential from the Secret, and the GPU worker polls the GPU pool."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.unit

K8S = REPO / "infra/k8s"
CREDENTIAL_NAMES = ("PASSWORD", "SECRET", "ACCESS_KEY", "TOKEN", "POSTGRES_USER")


def _documents() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", [])


def test_services_are_cluster_internal_and_cover_the_stack():
    docs = _documents()
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert set(services) == {"postgres", "seaweedfs", "mlflow", "prefect-server"}
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())
    assert not [d for d in docs if d["kind"] == "Ingress"]
    assert not any(
        c.get("ports") and any("hostPort" in p for p in c["ports"])
        for d in docs
        for c in _containers(d)
    )


def test_credentials_come_from_the_secret_only():
    checked = 0
    for doc in _documents():
        for container in _containers(doc):
            for env in container.get("env", []):
                if any(marker in env["name"] for marker in CREDENTIAL_NAMES):
                    checked += 1
                    assert "value" not in env, f"{doc['metadata']['name']}: literal {env['name']}"
                    ref = env["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == "aesformer-credentials"
    assert checked >= 8
    assert not [d for d in _documents() if d["kind"] == "Secret"]  # created from infra/.env


def test_workers_poll_the_pools_of_prefect_yaml_with_the_locked_prefect():
    lock = (REPO / "requirements/lock.txt").read_text().splitlines()
    prefect_version = next(line.split("==")[1] for line in lock if line.startswith("prefect=="))
    workers = [d for d in _documents() if d["metadata"]["name"].startswith("prefect-worker-")]
    pools = set()
    for worker in workers:
        (container,) = _containers(worker)
        assert container["image"].startswith(f"prefecthq/prefect:{prefect_version}-")
        args = container["args"]
        pools.add(args[args.index("--pool") + 1])
        assert args[args.index("--type") + 1] == "kubernetes"
        assert worker["spec"]["template"]["spec"]["serviceAccountName"] == "prefect-worker"
    assert pools == {"aesformer-cpu", "aesformer-gpu"}
    template = (REPO / "infra/prefect/kubernetes-gpu.json").read_text()
    for name in ("aesformer-runner", "aesformer-training", "aesformer-credentials"):
        assert f'"{name}"' in template  # the Job template names objects these manifests create
    names = {d["metadata"]["name"] for d in _documents()}
    assert {"aesformer-runner", "aesformer-training"} <= names


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds_every_resource_in_the_namespace():
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, check=True
    ).stdout
    docs = [d for d in yaml.safe_load_all(built) if d]
    assert len(docs) == len(_documents())
    namespaced = [d for d in docs if d["kind"] != "PriorityClass"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"aesformer"}
    images = {c["image"] for d in docs for c in _containers(d)}
    assert "ghcr.io/aesformer/aesformer-cpu:0.1.0" in images
