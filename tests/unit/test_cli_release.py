"""`aesformer export` and `aesformer import-aesrecon` as a user runs them."""

from __future__ import annotations

import json
import shutil

import pytest

from aesformer.release import read_manifest
from tests.unit.test_cli import REPO, assert_one_line_error, cli
from tests.unit.test_release_export import make_split

pytestmark = pytest.mark.unit


@pytest.fixture
def project(tmp_path):
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    make_split(tmp_path / "data/split")
    return tmp_path


def test_export_then_import_aesrecon_without_val(project):
    got = cli("export", "--split", "data/split", "--out", "data/release", cwd=project)
    assert got.returncode == 0, got.stderr
    summary = json.loads(got.stdout)
    assert summary["pairs"] == len(read_manifest(project / "data/release"))
    # the released dataset ships train and test only: drop val like the public AesRecon
    shutil.rmtree(project / "data/release/jsons/val")
    imported = cli("import-aesrecon", "data/release", "--out", "data/imported", cwd=project)
    assert imported.returncode == 0, imported.stderr
    assert "data-quality gate passed" in imported.stdout
    manifest = read_manifest(project / "data/imported")
    assert set(manifest["split"]) == {"train", "test"}
    assert (project / "data/imported.gate-docs/index.html").is_file()
    assert (project / "data/imported/jsons/train/Stage2/metadata.jsonl").is_file()


def test_bad_inputs(project, tmp_path):
    assert_one_line_error(
        cli("export", "--split", str(tmp_path / "nope"), "--out", "x", cwd=project),
        "dvc repro split",
    )
    assert_one_line_error(
        cli("import-aesrecon", str(tmp_path / "nope"), cwd=project), "no such folder"
    )
    assert_one_line_error(
        cli("release", "--version", "not-a-version", cwd=project), "not-a-version"
    )
