"""CI: .ci/run and the GitHub workflows run the same make targets as a developer."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.unit


def _workflow(name: str) -> dict:
    data = yaml.safe_load((REPO / ".github/workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _uses(job: dict) -> list[str]:
    return [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]


def test_ci_entry_point_runs_make_test_then_the_audit():
    commands = [
        line
        for line in (REPO / ".ci/run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands[-2:] == ["make test", "make audit"]


def test_every_push_lints_and_runs_all_tests_with_a_pip_cache():
    ci = _workflow("ci.yml")
    assert "push" in ci["on"] and "pull_request" in ci["on"]
    test = ci["jobs"]["test"]
    assert "if" not in test
    assert _runs(test) == ["make lint", "make test", "make audit"]
    setup = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"


def test_main_runs_the_embedded_pipeline_with_the_dvc_cache():
    pipeline = _workflow("ci.yml")["jobs"]["pipeline"]
    assert pipeline["if"] == "github.ref == 'refs/heads/main'"
    assert "make run" in _runs(pipeline)
    cache = next(s for s in pipeline["steps"] if s.get("uses", "").startswith("actions/cache"))
    assert cache["with"]["path"] == ".dvc/cache"


def test_images_build_on_changes_and_push_on_tags():
    images = _workflow("images.yml")
    assert images["on"]["push"]["tags"] == ["v*"]
    build = images["jobs"]["build"]
    assert "docker/build-push-action" in _uses(build)
    dockerfiles = {row["dockerfile"] for row in build["strategy"]["matrix"]["include"]}
    assert dockerfiles == {"infra/docker/Dockerfile.cpu", "infra/docker/Dockerfile.cuda"}
    for path in dockerfiles:
        assert (REPO / path).is_file()
    push = next(s for s in build["steps"] if s.get("uses", "").startswith("docker/build-push"))
    assert push["with"]["push"] == "${{ startsWith(github.ref, 'refs/tags/v') }}"
