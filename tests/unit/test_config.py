"""params.yaml loading: validation errors name the file and key; profiles overlay."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from aesformer.config import CorpusConfig, Params, deep_merge, dump_params, load_params
from aesformer.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.unit


def write(path: Path, data: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_repo_params_validate_and_match_defaults():
    cfg = load_params(REPO / "params.yaml")
    assert cfg.corpus.videos == 8
    assert cfg.models.thinker.base_model == "models/base/thinker"
    # params.yaml spells out every knob: the file and the model defaults agree
    assert cfg == Params()


def test_full_scale_profile_overlays_and_validates():
    cfg = load_params(REPO / "params.yaml", profile="full-scale")
    assert cfg.models.thinker.base_model == "Qwen/Qwen3-VL-8B-Instruct"
    assert cfg.models.editor.base_model == "Qwen/Qwen-Image-Edit-2511"
    assert cfg.remote.is_s3 and cfg.remote.url.startswith("s3://")
    assert cfg.orchestration.gpu_work_pool
    # keys the overlay does not name keep the base values
    assert cfg.corpus.seed == load_params(REPO / "params.yaml").corpus.seed
    assert cfg.models.thinker.tiny.hidden_size == 64


def test_unknown_key_names_file_and_key(tmp_path):
    p = write(tmp_path / "params.yaml", {"corpus": {"videos": 2, "vidoes": 3}})
    with pytest.raises(ConfigError) as err:
        load_params(p)
    msg = str(err.value)
    assert str(p) in msg and "corpus.vidoes" in msg and "unknown key" in msg


def test_unknown_section(tmp_path):
    p = write(tmp_path / "params.yaml", {"trainig": {}})
    with pytest.raises(ConfigError, match="trainig: unknown key"):
        load_params(p)


@pytest.mark.parametrize(
    ("section", "value", "key"),
    [
        ({"corpus": {"videos": -1}}, "-1", "corpus.videos"),
        ({"corpus": {"videos": "many"}}, "many", "corpus.videos"),
        ({"orchestration": {"retries": 99}}, "99", "orchestration.retries"),
        ({"corpus": {"resolutions": [[63, 64]]}}, "63x64", "corpus"),
        ({"corpus": {"events_per_video": [4, 2]}}, "(4, 2)", "corpus"),
        (
            {"models": {"thinker": {"tiny": {"hidden_size": 0}}}},
            "0",
            "models.thinker.tiny.hidden_size",
        ),
    ],
)
def test_bad_values_name_the_key(tmp_path, section, value, key):
    p = write(tmp_path / "params.yaml", section)
    with pytest.raises(ConfigError) as err:
        load_params(p)
    msg = str(err.value)
    assert key in msg and value in msg and str(p) in msg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    p = write(tmp_path / "params.yaml", "corpus:\n  videos: [1,\n")
    with pytest.raises(ConfigError, match=r"invalid YAML"):
        load_params(p)
    p = write(tmp_path / "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_params(p)


def test_missing_profile_lists_known(tmp_path):
    p = write(tmp_path / "params.yaml", {})
    write(tmp_path / "params" / "gpu.yaml", {})
    with pytest.raises(ConfigError, match=r"profile 'full' not found \(known: gpu\)"):
        load_params(p, profile="full")


def test_profile_error_names_both_files(tmp_path):
    p = write(tmp_path / "params.yaml", {})
    o = write(tmp_path / "params" / "bad.yaml", {"corpus": {"fps": [0]}})
    with pytest.raises(ConfigError) as err:
        load_params(p, profile="bad")
    assert str(p) in str(err.value) and str(o) in str(err.value)


def test_deep_merge_replaces_lists_and_merges_maps():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    merged = deep_merge(base, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base["a"]["y"] == [1, 2]  # input untouched


def test_dump_round_trips(tmp_path):
    cfg = Params(corpus=CorpusConfig(videos=3))
    p = write(tmp_path / "params.yaml", dump_params(cfg))
    assert load_params(p) == cfg
