"""Input resolution: folders, manifests, path containment, URIs."""

from __future__ import annotations

import json

import pytest

from aesformer.mining import inputs

pytestmark = pytest.mark.unit


def test_folder_lists_video_files_sorted(tmp_path):
    for name in ("b.mp4", "a.MOV", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    got = inputs.resolve(tmp_path, tmp_path / "dl")
    assert [v.video_id for v in got] == ["a", "b"] and all(v.reason is None for v in got)
    # a folder that holds a manifest means the manifest (the corpus layout: videos/ below it)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "c.mp4").write_bytes(b"x")
    (tmp_path / "manifest.jsonl").write_text('{"path": "videos/c.mp4", "video_id": "c1"}\n')
    assert [v.video_id for v in inputs.resolve(tmp_path, tmp_path / "dl")] == ["c1"]


def test_manifest_entries(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "videos").mkdir(parents=True)
    (data / "videos" / "v.mp4").write_bytes(b"x")
    rows = [
        {"path": "videos/v.mp4", "video_id": "named", "sha256": "ab"},
        {"path": "videos/../../escape.mp4"},
        {"path": "videos/none.mp4"},
        {"uri": "ftp://host/x.mp4"},
        {"uri": "https://host/watch?v=1", "video_id": "web"},
        {"note": "neither"},
    ]
    m = data / "manifest.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows) + "[1, 2]\n")
    monkeypatch.setattr(inputs.importlib.util, "find_spec", lambda name: None)
    got = inputs.resolve(m, tmp_path / "dl")
    assert got[0].video_id == "named" and got[0].sha256 == "ab" and got[0].path.is_file()
    assert [g.reason for g in got[1:]] == [
        "path_escapes_root",
        "missing_file",
        "unsupported_uri",
        "downloader_unavailable",
        "bad_manifest_line",
        "bad_manifest_line",
    ]
