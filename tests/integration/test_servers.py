"""The tests' own server helpers: ports that outgoing connections cannot take, and a SeaweedFS
start that survives a port taken before its bind."""

from __future__ import annotations

import socket

import pytest

from tests import servers

pytestmark = pytest.mark.integration


def test_free_ports_lie_below_the_ephemeral_range_and_are_bindable():
    start = servers._ephemeral_start()
    for _ in range(20):
        port = servers.free_port()
        assert 1024 <= port < start
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_seaweedfs_starts_again_on_new_ports_when_one_is_taken(tmp_path, monkeypatch):
    """A filer gRPC port taken between free_port() and weed's bind (what a parallel test
    worker's connection did in CI): weed exits "address already in use"; the helper retries."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))  # bound, not listening: weed's own bind fails
    real, handed = servers.free_port, []

    def first_taken() -> int:
        port = taken.getsockname()[1] if len(handed) == 7 else real()  # the 8th: filer.grpc
        handed.append(port)
        return port

    monkeypatch.setattr(servers, "free_port", first_taken)
    try:
        with servers.seaweedfs_s3(tmp_path) as s3:
            assert servers.listening(int(s3["endpoint_url"].rsplit(":", 1)[1]))
    finally:
        taken.close()
    assert len(handed) == 16  # two starts of 8 ports
    assert "address already in use" not in (tmp_path / "weed.log").read_text()  # the 2nd log
