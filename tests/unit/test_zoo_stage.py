"""Stage ``models``: both tiny bases, deterministic to the byte, with a numeric summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from aesformer.config import ModelsConfig
from aesformer.zoo.artifacts import BUILD_INFO, folder_digest
from aesformer.zoo.stage import EDITOR_DIR, THINKER_DIR, build_tiny

pytestmark = pytest.mark.unit


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _numbers(summary: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(_numbers(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("first")
    return out, build_tiny(ModelsConfig(), out)


def test_writes_both_bases(first) -> None:
    out, _ = first
    assert sorted(p.name for p in out.iterdir()) == sorted([THINKER_DIR, EDITOR_DIR])
    for name in (THINKER_DIR, EDITOR_DIR):
        info = json.loads((out / name / BUILD_INFO).read_text())
        assert info["content_sha256"] == folder_digest(out / name)


def test_summary_is_a_json_mapping_of_numbers(first) -> None:
    _, summary = first
    json.dumps(summary)
    numbers = _numbers(summary)
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in numbers.values())
    assert numbers["thinker.parameters"] > 0
    assert numbers["editor.parameters"] > 0
    assert numbers["tokenizer.bpe_vocab_size"] == ModelsConfig().thinker.tiny.vocab_size
    assert numbers["seconds"] >= numbers["thinker.seconds"] + numbers["editor.seconds"]


def test_same_config_gives_identical_bytes(first, tmp_path: Path) -> None:
    out, _ = first
    build_tiny(ModelsConfig(), tmp_path)
    assert _files(tmp_path) == _files(out)


def test_rebuilding_in_place_changes_nothing(first) -> None:
    out, _ = first
    before = _files(out)
    build_tiny(ModelsConfig(), out)
    assert _files(out) == before


def test_seed_changes_the_weights_only(first, tmp_path: Path) -> None:
    out, _ = first
    cfg = ModelsConfig()
    cfg.thinker.tiny.seed = 1
    build_tiny(cfg, tmp_path)
    ours, theirs = _files(tmp_path / THINKER_DIR), _files(out / THINKER_DIR)
    changed = {name for name in ours if ours[name] != theirs[name]}
    assert changed == {"model.safetensors", BUILD_INFO}
    assert _files(tmp_path / EDITOR_DIR) == _files(out / EDITOR_DIR)
