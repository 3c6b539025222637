"""Model folder helpers: atomic replacement, content hash, build info, pickle refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aesformer.errors import InputError
from aesformer.zoo.artifacts import (
    BUILD_INFO,
    RECORDED_LIBRARIES,
    count_parameters,
    folder_bytes,
    folder_digest,
    is_local,
    require_safetensors,
    revision_kwargs,
    staged_folder,
    write_build_info,
)

pytestmark = pytest.mark.unit


def _write(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_staged_folder_replaces_the_old_content(tmp_path: Path) -> None:
    final = tmp_path / "model"
    _write(final, {"stale.bin": b"old"})
    with staged_folder(final) as folder:
        _write(folder, {"model.safetensors": b"new"})
    assert sorted(p.name for p in final.iterdir()) == ["model.safetensors"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert final.stat().st_mode & 0o777 == 0o755


def test_staged_folder_leaves_the_old_content_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "model"
    _write(final, {"model.safetensors": b"old"})
    with pytest.raises(RuntimeError), staged_folder(final) as folder:
        _write(folder, {"model.safetensors": b"half"})
        raise RuntimeError("build failed")
    assert (final / "model.safetensors").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_digest_covers_paths_and_bytes_but_not_build_info(tmp_path: Path) -> None:
    _write(tmp_path / "a", {"x/w.safetensors": b"1", "config.json": b"{}"})
    _write(tmp_path / "b", {"x/w.safetensors": b"1", "config.json": b"{}", BUILD_INFO: b"{}"})
    _write(tmp_path / "c", {"y/w.safetensors": b"1", "config.json": b"{}"})
    _write(tmp_path / "d", {"x/w.safetensors": b"2", "config.json": b"{}"})
    digests = {name: folder_digest(tmp_path / name) for name in "abcd"}
    assert digests["a"] == digests["b"]
    assert len({digests["a"], digests["c"], digests["d"]}) == 3


def test_build_info_records_versions_and_hash(tmp_path: Path) -> None:
    _write(tmp_path, {"model.safetensors": b"weights"})
    record = write_build_info(tmp_path, {"kind": "test", "parameters": {"total": 3}})
    on_disk = json.loads((tmp_path / BUILD_INFO).read_text())
    assert on_disk == record
    assert set(record["libraries"]) == set(RECORDED_LIBRARIES)
    assert record["content_sha256"] == folder_digest(tmp_path)
    assert folder_bytes(tmp_path) == len(b"weights") + (tmp_path / BUILD_INFO).stat().st_size


def test_pickle_only_folder_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"pytorch_model.bin": b"pickle", "config.json": b"{}"})
    with pytest.raises(InputError, match="pytorch_model.bin"):
        require_safetensors(tmp_path)


def test_pickle_only_component_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"vae/w.safetensors": b"", "transformer/diffusion_pytorch_model.bin": b""})
    require_safetensors(tmp_path, ["vae"])
    with pytest.raises(InputError, match="transformer"):
        require_safetensors(tmp_path, ["vae", "transformer"])


def test_safetensors_next_to_pickles_is_accepted(tmp_path: Path) -> None:
    _write(tmp_path, {"pytorch_model.bin": b"", "model.safetensors": b""})
    require_safetensors(tmp_path)  # accepted: the safetensors file is what loads
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(InputError, match="only pickle weights"):
        require_safetensors(tmp_path)


def test_local_folder_versus_hub_id(tmp_path: Path) -> None:
    assert is_local(tmp_path)
    assert not is_local("Qwen/Qwen3-VL-8B-Instruct")


def test_revision_is_only_passed_when_pinned() -> None:
    assert revision_kwargs(None) == {}
    assert revision_kwargs("abc123") == {"revision": "abc123"}


def test_count_parameters() -> None:
    assert count_parameters(torch.nn.Linear(3, 2)) == 8
