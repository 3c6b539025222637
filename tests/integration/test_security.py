"""Security against real servers: canary secrets never reach logs, MLflow or Prefect records,
or stage outputs; the Prefect server the project starts listens on loopback only.

The canary run is a real slice of the pipeline (the Prefect flow over DVC stages, tracked in a
real ``mlflow server`` over HTTP, artifacts through its proxy, a model registered) with a
distinctive value in every secret-holding variable the project, MLflow, Prefect, boto and the
Hub read. First it proves the values were visible to the code under test (the stage commands'
environment, MLflow's request credentials, the Prefect client's header), then it looks for them
everywhere the run wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import socket
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from aesformer.config import load_params
from tests.conftest import REPO
from tests.integration.test_pipeline_flow import small_repo
from tests.servers import free_port, listening, mlflow_server, process, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prefect_server")]

#: Secret-holding variables read by MLflow (bearer token / basic auth), Prefect (API key),
#: boto3 and DVC's S3 remote, the Hub, and the judge / teacher endpoints (``api_key_env``).
LIBRARY_SECRETS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_PASSWORD",
    "PREFECT_API_KEY",
    "HF_TOKEN",
    "OPENAI_API_KEY",
)

#: A stage that records a hash of every variable its command sees (never a value).
PROBE = (
    "python -c \"import hashlib, json, os; open('probe.json', 'w').write(json.dumps("
    '{k: hashlib.sha256(v.encode()).hexdigest() for k, v in os.environ.items()}))"'
)
SLICE = ["probe", "models", "corpus", "mine", "align", "annotate", "split", "release", "sft"]


def api_key_envs() -> set[str]:
    """Every ``api_key_env`` named by params.yaml and its profiles (judges, teacher)."""
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "api_key_env" and value:
                    names.add(str(value))
                walk(value)

    profiles = [None, *(p.stem for p in (REPO / "params").glob("*.yaml"))]
    for profile in profiles:
        walk(load_params(REPO / "params.yaml", profile=profile).model_dump(mode="json"))
    return names


def needles(canaries: Mapping[str, str]) -> dict[bytes, str]:
    """What to look for: each whole value and its random part alone (a truncated copy)."""
    out: dict[bytes, str] = {}
    for name, value in canaries.items():
        out[value.encode()] = name
        out[value.rsplit("-", 1)[1].encode()] = name
    return out


def leaks(where: str, data: bytes | str, found: Mapping[bytes, str]) -> list[str]:
    """``NAME in WHERE`` once for each variable whose value (or random part) is in ``data``."""
    blob = data.encode() if isinstance(data, str) else data
    return sorted({f"{found[n]} in {where}" for n in found if n in blob})


def file_leaks(roots: Iterable[Path], found: Mapping[bytes, str]) -> tuple[list[str], int]:
    """Leaks in every file under ``roots`` (git's compressed objects aside); files scanned."""
    hits, scanned = [], 0
    for root in map(Path, roots):
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if ".git" in path.relative_to(root).parts or not path.is_file():
                continue
            scanned += 1
            hits += leaks(str(path), path.read_bytes(), found)
    return hits, scanned


def mlflow_records(uri: str) -> tuple[str, dict[str, int]]:
    """Every run's params, tags, metric names, inputs, and every registered model version,
    as one text; with counts (so an empty store cannot pass)."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=uri)
    parts: list[str] = []
    counts = {"runs": 0, "params": 0, "versions": 0}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        parts += [exp.name, exp.artifact_location, json.dumps(exp.tags)]
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL):
            counts["runs"] += 1
            counts["params"] += len(run.data.params)
            parts += [json.dumps(run.data.params), json.dumps(run.data.tags)]
            parts += [*run.data.metrics, run.info.run_name or "", run.info.artifact_uri or ""]
            for d in run.inputs.dataset_inputs:
                parts += [d.dataset.name, d.dataset.source, d.dataset.profile or ""]
    for model in client.search_registered_models():
        parts += [model.name, model.description or "", json.dumps(model.tags)]
        for v in client.search_model_versions(f"name='{model.name}'"):
            counts["versions"] += 1
            parts += [v.source or "", v.description or "", json.dumps(v.tags)]
    return "\n".join(parts), counts


def prefect_records(flow_run_id: str) -> tuple[str, dict[str, int]]:
    """The flow run (parameters), its logs and every artifact on the server, as one text."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        artifacts = client.read_artifacts()
    parts = [run.model_dump_json(), *(log.message for log in logs)]
    parts += [a.model_dump_json() for a in artifacts]
    ours = [a for a in artifacts if a.flow_run_id == run.id]
    return "\n".join(parts), {"logs": len(logs), "artifacts": len(ours)}


def prefect_database() -> list[Path]:
    """The test server's SQLite database files (with its journal, if any)."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url.get_secret_value()
    db = Path(url.split(":///", 1)[1])
    return [p for p in db.parent.glob(db.name + "*") if p.is_file()]


def test_leak_scan_finds_a_planted_canary(tmp_path):
    """The scanners below find a value (or its random part) in a file or a text."""
    found = needles({"X": f"canary-x-{uuid.uuid4().hex}"})
    value = next(iter(found)).decode()
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "deep" / "er" / "log.bin").write_bytes(b"\x00 token=" + value[-32:].encode())
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x").write_text(value)
    hits, scanned = file_leaks([tmp_path], found)
    assert hits == [f"X in {tmp_path / 'deep/er/log.bin'}"] and scanned == 1
    assert leaks("text", f"a {value} b", found) == ["X in text"]
    assert leaks("text", value[:-1], found) == []


def test_canary_secrets_never_leak(tmp_path, monkeypatch, capfd):
    from flows.pipeline import pipeline
    from mlflow.utils.credentials import get_default_host_creds
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_KEY, temporary_settings

    names = sorted({*LIBRARY_SECRETS, *api_key_envs()})
    assert {"OPENAI_API_KEY", "VLLM_API_KEY"} <= set(names)
    canaries = {n: f"canary-{n.lower().replace('_', '-')}-{uuid.uuid4().hex}" for n in names}
    found = needles(canaries)

    wiring = yaml.safe_load((REPO / "dvc.yaml").read_text())
    stages = {"probe": {"cmd": PROBE, "outs": [{"probe.json": {"cache": False}}]}}
    stages.update({s: wiring["stages"][s] for s in SLICE[1:]})
    root = small_repo(tmp_path / "repo", {"stages": stages})
    store = tmp_path / "mlflow"
    store.mkdir()
    # the server is a separate service: started before the canaries enter this environment
    with mlflow_server(store, f"sqlite:///{store / 'mlflow.db'}") as url:
        for name, value in canaries.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
        # the header MLflow sends: a bearer token (its password goes with a username only)
        assert get_default_host_creds(url).token == canaries["MLFLOW_TRACKING_TOKEN"]
        with temporary_settings({PREFECT_API_KEY: canaries["PREFECT_API_KEY"]}):
            with get_client(sync_client=True) as client:
                sent = client._client.headers["authorization"]
                assert sent == f"Bearer {canaries['PREFECT_API_KEY']}"
                assert client.hello().status_code == 200  # the local server accepts it
            state = pipeline(root=str(root), stages=SLICE, return_state=True)
            results = state.result()
            assert [r["stage"] for r in results] == SLICE and all(r["ran"] for r in results)
            prefect_text, prefect_counts = prefect_records(state.state_details.flow_run_id)
        mlflow_text, mlflow_counts = mlflow_records(url)
    out, err = capfd.readouterr()

    # the canaries were there: every stage command saw each of them
    probe = json.loads((root / "probe.json").read_text())
    for name, value in canaries.items():
        assert probe.get(name) == hashlib.sha256(value.encode()).hexdigest(), name
    # ... and the run did write what is searched below
    assert prefect_counts["logs"] > 10 and prefect_counts["artifacts"] == len(SLICE)
    assert mlflow_counts["runs"] >= 7 and mlflow_counts["params"] > 50
    assert mlflow_counts["versions"] == 1  # sft registered aesthinker
    artifacts = list((store / "mlflow-artifacts").rglob("*"))
    assert any(p.name == "MLmodel" for p in artifacts)

    hits = leaks("captured stdout", out, found) + leaks("captured stderr", err, found)
    hits += leaks("Prefect flow run, logs, artifacts", prefect_text, found)
    hits += leaks("MLflow params/tags/metrics/models", mlflow_text, found)
    # the stages' repo (data/, reports/, models/, the DVC cache, dvc.lock), the MLflow server's
    # store, artifacts and log, Prefect's database and home (logs, profiles, stored results)
    prefect_home = Path(os.environ["PREFECT_HOME"])
    file_hits, scanned = file_leaks([root, store, prefect_home, *prefect_database()], found)
    assert scanned > 100
    assert not hits + file_hits, "canary secrets leaked:\n" + "\n".join(hits + file_hits)


# ----------------------------------------------------------------------------- loopback
def listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on TCP ``port`` (Linux /proc/net)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).is_file():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hexport = local.split(":")
            if state != "0A" or int(hexport, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, words))
    return found


needs_proc = pytest.mark.skipif(
    not Path("/proc/net/tcp").is_file(), reason="reads listening sockets from /proc/net"
)


@needs_proc
def test_listening_addresses_reads_the_bound_address():
    """Another loopback address than the servers' (nothing is exposed): the detector reports
    the address a socket is bound to, so it can tell 127.0.0.1 from anything else."""
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        s.listen()
        assert listening_addresses(s.getsockname()[1]) == {"127.0.0.2"}


@needs_proc
def test_the_flows_prefect_server_listens_on_loopback_only():
    """The temporary server the flows start when no PREFECT_API_URL is set (the test session's
    server is the same one: Prefect's SubprocessASGIServer)."""
    from prefect.settings import PREFECT_API_URL

    port = urlsplit(PREFECT_API_URL.value()).port
    assert port and listening_addresses(port) == {"127.0.0.1"}


def make_recipe(target: str) -> list[str]:
    """The command line of a one-line Makefile target, as make would run it here."""
    lines = (REPO / "Makefile").read_text().splitlines()
    recipe = lines[lines.index(next(x for x in lines if x.startswith(f"{target}:"))) + 1]
    text = recipe.strip().replace("$(VENV)/bin/", f"{Path(sys.executable).parent}/")
    return shlex.split(text)


@needs_proc
@pytest.mark.parametrize("target", ["prefect-ui"])  # mlflow-ui's line: the static loopback test
def test_make_ui_servers_listen_on_loopback_only(target, tmp_path):
    cmd = make_recipe(target)
    port = free_port()
    cmd[cmd.index("--port") + 1] = str(port)
    cmd = [c.replace("$(CURDIR)", str(tmp_path)) for c in cmd]
    env = {"PREFECT_HOME": str(tmp_path / ".prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with process(cmd, tmp_path / "server.log", env=env, cwd=tmp_path) as proc:
        wait_until(lambda: listening(port), 120, target, proc, tmp_path / "server.log")
        assert listening_addresses(port) == {"127.0.0.1"}
