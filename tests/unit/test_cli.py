"""The command line: help texts, and one clear error line (exit 2) for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aesformer.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr


def test_help_lists_commands():
    proc = cli("--help")
    assert proc.returncode == 0
    for command in ("corpus", "config", "models", "remote"):
        assert command in proc.stdout


def test_corpus_help_explains_every_option():
    proc = cli("corpus", "--help")
    assert proc.returncode == 0
    for option in ("--out", "--videos", "--seed", "--params", "--profile"):
        assert option in proc.stdout
    assert "ground truth" in proc.stdout


def test_config_show_prints_validated_merge():
    proc = cli("config", "show", "--profile", "full-scale", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert '"base_model": "Qwen/Qwen3-VL-8B-Instruct"' in proc.stdout


def test_unknown_params_key_is_one_error_line(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump({"corpus": {"videos": 1, "colour": "red"}}))
    proc = cli("config", "show", "--params", str(bad))
    assert_one_line_error(proc, str(bad), "corpus.colour", "unknown key")


def test_missing_params_file(tmp_path):
    proc = cli("corpus", "--params", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o"))
    assert_one_line_error(proc, "missing.yaml", "not found")


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = cli("corpus", "--out", str(blocker / "raw"), "--videos", "1")
    assert_one_line_error(proc, str(blocker / "raw"), "cannot create output folder")


def test_bad_option_value_is_a_usage_error():
    proc = cli("corpus", "--videos", "0")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--videos" in proc.stderr


def test_an_unreachable_tracking_server_is_one_error_line(tmp_path, monkeypatch):
    from tests.servers import free_port

    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # nobody there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    proc = cli("corpus", "--out", "data/raw", "--videos", "1", cwd=tmp_path)
    assert_one_line_error(proc, "error: MLflow: ", "Connection refused")
