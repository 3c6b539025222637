"""Named stages of the deployment flows, the inputs a fresh checkout must fetch, the lineage
table, and worktrees per flow run (real git and DVC in a temp folder)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from aesformer.errors import AesformerError
from aesformer.orchestration import (
    close_checkout,
    fetch_outputs,
    git,
    lineage_markdown,
    open_checkout,
    persisted_outputs,
    record_checkout,
    release_of,
    select_stages,
    upstream_outputs,
)
from aesformer.storage import dvc

pytestmark = pytest.mark.unit

WIRING = {
    "stages": {
        "models": {"cmd": "true", "outs": ["models/base"]},
        "release": {"cmd": "true", "outs": ["data/release"]},
        "sft": {
            "cmd": "true",
            "deps": ["data/release", "models/base/thinker", "src/aesformer/thinker"],
            "outs": [{"models/thinker/sft": {"persist": True}}],
        },
        "grpo": {
            "cmd": "true",
            "deps": ["data/release", "models/thinker/sft"],
            "outs": ["models/thinker/grpo"],
        },
    }
}


@pytest.fixture
def wired(tmp_path):
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(WIRING, sort_keys=False))
    return tmp_path


def test_select_stages_keeps_pipeline_order(wired):
    assert select_stages(wired, ["grpo", "sft"]) == ["sft", "grpo"]


def test_missing_stage_is_named_with_what_dvc_yaml_has(wired):
    with pytest.raises(AesformerError, match=r"no stage\(s\) \['editor'\] at this commit; it has"):
        select_stages(wired, ["sft", "editor"])
    with pytest.raises(AesformerError, match="no stages given"):
        select_stages(wired, [])


def test_upstream_outputs_are_other_stages_outputs_the_stages_read(wired):
    # a dep inside an output folder (models/base/thinker) fetches the whole output
    assert upstream_outputs(wired, ["sft", "grpo"]) == ["data/release", "models/base"]
    # grpo alone also needs sft's adapter
    assert upstream_outputs(wired, ["grpo"]) == ["data/release", "models/thinker/sft"]
    assert upstream_outputs(wired, ["models"]) == []


def test_persisted_outputs_are_the_stages_own_persist_outs(wired):
    assert persisted_outputs(wired, ["sft", "grpo"]) == ["models/thinker/sft"]
    assert persisted_outputs(wired, ["grpo"]) == []


def test_lineage_markdown_lists_every_link():
    md = lineage_markdown(
        {
            "flow_run_id": "f-1",
            "stages": ["sft", "grpo"],
            "source_commit": "abc",
            "result_commit": "def",
            "branch": "runs/x",
            "release": {"tag": "data-v1.0.0", "md5": "123.dir"},
            "tracking_uri": "http://127.0.0.1:5000",
            "runs": [{"run_id": "r1", "stage": "sft", "status": "FINISHED"}],
        }
    )
    for part in ("f-1", "`abc`", "`def`", "runs/x", "data-v1.0.0", "123.dir", "`r1`", "sft"):
        assert part in md
    empty = lineage_markdown(
        {
            "flow_run_id": "f-2",
            "stages": ["sft"],
            "source_commit": "a",
            "result_commit": "a",
            "branch": None,
            "release": {"tag": "unreleased", "md5": ""},
            "tracking_uri": "sqlite:///x",
            "runs": [],
        }
    )
    assert "(run in place)" in empty and "no MLflow run" in empty


def _repo(root):
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for key, value in (("user.name", "Test"), ("user.email", "test@example.invalid")):
        subprocess.run(["git", "config", key, value], cwd=root, check=True)
    dvc(["init", "-q"], root)
    wiring = {
        "stages": {"make": {"cmd": "python -c \"open('a.txt','w').write('A')\"", "outs": ["a.txt"]}}
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(wiring))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "wiring")
    return root


def test_worktree_per_run_shares_the_dvc_cache_and_keeps_its_result(tmp_path):
    source = _repo(tmp_path / "src")
    dvc(["repro"], source)
    git(source, "add", "dvc.lock", ".gitignore")
    git(source, "commit", "-q", "-m", "lock")
    git(source, "tag", "data-v0.1.0")
    (source / "a.txt").unlink()  # only the cache has it now

    # the stages of the commit to run, not of the working tree, decide
    (source / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"other": {"cmd": "true"}}}))
    assert select_stages(source, ["make"], ref="HEAD") == ["make"]
    with pytest.raises(AesformerError, match=r"no stage\(s\) \['other'\]"):
        select_stages(source, ["other"], ref="HEAD")
    git(source, "checkout", "--", "dvc.yaml")

    checkout = open_checkout(source, tmp_path / "runs", "run-1")
    assert checkout.parent == (tmp_path / "runs").resolve()
    with pytest.raises(AesformerError, match="already exists"):
        open_checkout(source, tmp_path / "runs", "run-1")
    # the shared cache serves the checkout's outputs; a missing optional output is logged
    lines: list[str] = []
    fetch_outputs(checkout, ["a.txt"], lines.append)
    assert (checkout / "a.txt").read_text() == "A"
    assert lines == ["a.txt: checked out from the DVC cache"]
    fetch_outputs(checkout, ["nope.txt"], lines.append, required=False)
    assert "nope.txt: not in the DVC cache or remote" in lines[-1]
    with pytest.raises(AesformerError, match="dvc pull nope.txt failed"):
        fetch_outputs(checkout, ["nope.txt"], lines.append)
    assert release_of(checkout) == {"tag": "data-v0.1.0", "md5": ""}

    (checkout / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "make": {
                        "cmd": "python -c \"open('a.txt','w').write('B')\"",
                        "outs": ["a.txt"],
                    }
                }
            }
        )
    )
    git(checkout, "commit", "-q", "-am", "new cmd")
    dvc(["repro"], checkout)
    head = record_checkout(checkout, "runs/run-1", "run 1 outputs")
    close_checkout(source, checkout)
    assert not checkout.exists()
    # the result is reachable from the source repository, and its output is in the shared cache
    assert git(source, "rev-parse", "runs/run-1") == head
    shown = git(source, "show", "runs/run-1:dvc.lock")
    assert "a.txt" in shown and git(source, "rev-parse", "HEAD") != head
    git(source, "checkout", "-q", "runs/run-1")
    dvc(["checkout", "a.txt"], source)
    assert (source / "a.txt").read_text() == "B"
