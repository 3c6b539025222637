"""infra/compose.yaml and infra/docker/: loopback-only ports, credentials only from infra/.env,
images that pin their bases, run as a non-root user and install the lock like the Makefile.

(No Docker engine is needed: the files are checked as data. CI builds the images.)
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.unit

COMPOSE = REPO / "infra/compose.yaml"
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY|CONNECTION_URL|STORE_URI")
INTERPOLATION = re.compile(r"\$\{(\w+)(:?[?-][^}]*)?\}")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _published(port) -> str:
    if isinstance(port, dict):  # long syntax
        return f"{port.get('host_ip', '')}:{port.get('published', '')}:{port['target']}"
    return str(port)


def test_every_published_port_is_bound_to_loopback():
    services = _compose()["services"]
    published = [(name, _published(p)) for name, s in services.items() for p in s.get("ports", [])]
    assert {name for name, _ in published} >= {"postgres", "seaweedfs", "mlflow", "prefect-server"}
    for name, port in published:
        assert port.startswith("127.0.0.1:"), f"{name}: {port} is not bound to 127.0.0.1"
    for service in services.values():
        assert service.get("network_mode") != "host"


def _env_items(services: dict):
    for name, service in services.items():
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        for key, value in env.items():
            yield name, key, str(value)


def test_no_credential_is_written_inline():
    services = _compose()["services"]
    checked = 0
    for name, key, value in _env_items(services):
        if not SECRET_KEY.search(key):
            continue
        checked += 1
        names = [m.group(1) for m in INTERPOLATION.finditer(value)]
        secret_vars = [n for n in names if SECRET_KEY.search(n) or n.endswith("_USER")]
        assert secret_vars, f"{name}.{key} holds a literal, not ${{VAR}} from infra/.env"
        # no fallback value for a credential (`${X:-default}` would be a committed secret)
        for match in INTERPOLATION.finditer(value):
            assert not (match.group(2) or "").startswith(":-"), f"{name}.{key}: default secret"
    assert checked >= 6


def test_env_example_documents_every_variable_and_env_is_ignored():
    used = set(INTERPOLATION.findall(COMPOSE.read_text()))
    used = {name for name, _ in used}
    example = (REPO / "infra/.env.example").read_text()
    documented = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used <= documented, f"undocumented: {sorted(used - documented)}"
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "infra/.env"], cwd=REPO, capture_output=True
    )
    assert ignored.returncode == 0, "infra/.env must be git-ignored"


def test_stack_has_the_production_shape():
    services = _compose()["services"]
    assert {"postgres", "seaweedfs", "mlflow", "prefect-server", "worker"} <= set(services)
    mlflow = " ".join(services["mlflow"]["command"])
    assert "--artifacts-destination s3://" in mlflow
    assert services["mlflow"]["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql")
    prefect_db = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert prefect_db.startswith("postgresql+asyncpg://")
    worker = services["worker"]
    assert worker["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert "aesformer-cpu" in worker["command"]
    gpu = services["worker-gpu"]
    assert gpu["profiles"] == ["gpu"] and "aesformer-gpu" in gpu["command"]
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_images_pin_bases_run_unprivileged_and_install_the_lock(name):
    text = (REPO / "infra/docker" / name).read_text()
    bases = re.findall(r"^ARG \w+_IMAGE=(\S+)$", text, re.M)
    assert bases and all(re.search(r"(:\d[\w.-]*|@sha256:[0-9a-f]{64})$", b) for b in bases)
    assert not any(b.endswith(":latest") for b in bases)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert "requirements/lock.txt" in text and "--no-deps" in text
    assert "torch==2.13.0" in text and ("pip check" in text)
    assert not re.search(r"^(ENV|ARG)\s+\S*(SECRET|PASSWORD|TOKEN|ACCESS_KEY)", text, re.M)
    assert "GIT_COMMITTER_NAME=" in text  # flows commit dvc.lock in their clone


def test_dockerignore_keeps_state_and_credentials_out_of_the_build_context():
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".env", ".dvc/config.local", ".git", "data", "models", "mlruns.db"):
        assert path in ignored
