"""DVC stage order, dvc.lock outputs and the artifact table used by the pipeline flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aesformer.errors import AesformerError
from aesformer.orchestration import (
    outputs_markdown,
    report_pages,
    stage_names,
    stage_outputs,
    subprocess_env,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def test_repo_dvc_yaml_order_is_consistent():
    names = stage_names(REPO)
    assert names[:2] == ["models", "corpus"]


def test_stage_listed_before_its_producer_is_rejected(tmp_path):
    (tmp_path / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "mine": {"cmd": "x", "deps": ["data/raw"], "outs": ["data/mined"]},
                    "corpus": {"cmd": "y", "outs": ["data/raw"]},
                }
            },
            sort_keys=False,
        )
    )
    with pytest.raises(AesformerError, match="'mine' is listed before 'corpus'"):
        stage_names(tmp_path)


def test_stage_outputs_from_lock(tmp_path):
    (tmp_path / "dvc.lock").write_text(
        yaml.safe_dump(
            {
                "schema": "2.0",
                "stages": {
                    "corpus": {
                        "cmd": "aesformer corpus",
                        "outs": [{"path": "data/raw", "md5": "abc.dir", "size": 10, "nfiles": 3}],
                    }
                },
            }
        )
    )
    rows = stage_outputs(tmp_path, "corpus")
    assert rows == [{"path": "data/raw", "md5": "abc.dir", "size": 10, "nfiles": 3}]
    assert stage_outputs(tmp_path, "models") == []
    md = outputs_markdown("corpus", rows, ran=True)
    assert "| `data/raw` | `abc.dir` | 10 | 3 |" in md and "ran" in md
    assert "up to date" in outputs_markdown("corpus", rows, ran=False)


def test_subprocess_env_puts_interpreter_bin_first():
    import sys

    env = subprocess_env({"X": "1"})
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)
    assert env["X"] == "1"


def test_report_pages_are_linked(tmp_path):
    (tmp_path / "reports/gate").mkdir(parents=True)
    (tmp_path / "reports/gate/index.html").write_text("<html></html>")
    (tmp_path / "data/split").mkdir(parents=True)
    rows = [
        {"path": "data/split", "md5": "a.dir", "size": 1, "nfiles": 1},
        {"path": "reports/gate", "md5": "b.dir", "size": 1, "nfiles": 1},
    ]
    pages = report_pages(tmp_path, rows)
    assert pages == [(tmp_path / "reports/gate/index.html").resolve()]
    md = outputs_markdown("split", rows, ran=True, pages=pages)
    assert f"[gate/index.html]({pages[0].as_uri()})" in md
    assert "Reports:" not in outputs_markdown("split", rows, ran=True)


def test_set_params_keeps_comments_and_validates(tmp_path):
    from aesformer.errors import AesformerError
    from aesformer.orchestration import set_params

    params = tmp_path / "params.yaml"
    original = (REPO / "params.yaml").read_text()
    params.write_text(original)
    set_params(params, {"mine.source": "data/videos", "mine.workers": 2})
    text = params.read_text()
    assert "source: data/videos" in text and "workers: 2" in text
    assert text.count("#") == original.count("#")  # every comment kept
    from aesformer.config import load_params

    assert load_params(params).mine.source == "data/videos"
    with pytest.raises(AesformerError, match="workers"):
        set_params(params, {"mine.workers": 0})  # out of range: refused
    with pytest.raises(AesformerError, match="nosuch"):
        set_params(params, {"nosuch.key": 1})
    assert params.read_text() == text  # a refused change leaves the file as it was
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]  # no partial file left
