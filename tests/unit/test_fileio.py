"""Atomic output files: complete or absent, never half-written; errors name the path."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from aesformer import fileio as files
from aesformer.errors import OutputError

pytestmark = pytest.mark.unit


def test_write_bytes_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    files.write_text(target, "one")
    files.write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "b.bin"
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_partial_keeps_the_suffix_and_is_hidden(tmp_path: Path) -> None:
    p = files.partial_path(tmp_path / "tut_0000.mp4")
    assert p.name.startswith(".") and p.suffix == ".mp4" and files.PARTIAL_MARK in p.name


def test_unwritable_location_raises_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="file/sub"):
        files.ensure_dir(blocker / "sub")
    with pytest.raises(OutputError, match="a.txt"):
        files.write_text(blocker / "a.txt", "x")


def test_png_bytes_are_deterministic(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    files.write_png(tmp_path / "a.png", image)
    files.write_png(tmp_path / "b.png", image)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_sha256_and_jsonl(tmp_path: Path) -> None:
    files.write_jsonl(tmp_path / "m.jsonl", [{"b": 1, "a": 2}, {"c": 3}])
    text = (tmp_path / "m.jsonl").read_text()
    assert text == '{"a": 2, "b": 1}\n{"c": 3}\n'
    assert files.sha256_file(tmp_path / "m.jsonl") == hashlib.sha256(text.encode()).hexdigest()


def test_remove_partials_and_remove(tmp_path: Path) -> None:
    (tmp_path / ".x.partial.mp4").write_bytes(b"")
    (tmp_path / "keep.mp4").write_bytes(b"")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "f").write_text("x")
    files.remove_partials(tmp_path)
    files.remove(tmp_path / "tree")
    files.remove(tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]
