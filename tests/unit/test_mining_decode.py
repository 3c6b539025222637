"""Decoding pass: signals, sampling grid, downscaling, seek-back with verification."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.mining.decode import (
    DecodeError,
    analysis_size,
    decode,
    downscale,
    read_frames,
    sample_grid,
)

pytestmark = pytest.mark.unit


def make_video(path: Path, n: int = 30, size=(320, 180), fps: float = 10.0) -> Path:
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for i in range(n):
        f = np.full((size[1], size[0], 3), 40, np.uint8)
        cv2.putText(f, str(i), (20, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
        vw.write(f)
    vw.release()
    return path


def test_signals_and_samples(tmp_path):
    seen = []
    v = decode(make_video(tmp_path / "v.mp4"), 160, 2.0, on_frame=lambda i, f: seen.append(i))
    assert v.info.n_frames == 30 and v.info.fps == 10.0
    assert seen == list(range(30))
    assert v.diff.shape == v.luma.shape == (30,) and v.diff[0] == 0 and v.diff[1:].min() > 0
    assert v.thumbs.shape[0] == 30
    assert v.sample_indices() == [0, 5, 10, 15, 20, 25, 29]
    assert v.samples[0].shape == (90, 160, 3) and v.scale == 0.5


def test_read_frames_matches_sequential_decode(tmp_path):
    path = make_video(tmp_path / "v.mp4")
    v = decode(path, 160, 2.0)
    frames = read_frames(path, [25, 3, 17], v.samples)
    cap = cv2.VideoCapture(str(path))
    seq = [cap.read()[1] for _ in range(30)]
    for i in (3, 17, 25):
        assert np.abs(frames[i].astype(int) - seq[i]).mean() < 1.0


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty_file"), (b"hello, not a video\n" * 10, "unreadable")],
)
def test_bad_files(tmp_path, content, reason):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(DecodeError) as err:
        decode(p, 160, 2.0)
    assert err.value.reason == reason


def test_missing_file(tmp_path):
    with pytest.raises(DecodeError) as err:
        decode(tmp_path / "none.mp4", 160, 2.0)
    assert err.value.reason == "missing_file"


def test_geometry_helpers():
    assert analysis_size(3840, 2160, 320) == (320, 180)
    assert analysis_size(200, 100, 320) == (200, 100)  # never upscaled
    assert sample_grid(10, 25.0, 2.0) == [0]
    assert sample_grid(51, 25.0, 2.0) == [0, 12, 25, 38, 50]
    big = np.random.default_rng(0).integers(0, 255, (2160, 3840, 3), np.uint8)
    assert downscale(big, (320, 180)).shape == (180, 320, 3)


def test_downscale_by_halvings_matches_one_area_resize():
    rng = np.random.default_rng(0)
    big = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    ref = cv2.resize(big, (320, 180), interpolation=cv2.INTER_AREA)
    got = downscale(big, (320, 180))
    assert np.abs(got.astype(int) - ref).max() <= 1
    smooth = cv2.GaussianBlur(big, (0, 0), 6)
    odd = downscale(smooth, (300, 170))  # not a power of two: halvings, then one area resize
    ref = cv2.resize(smooth, (300, 170), interpolation=cv2.INTER_AREA)
    assert odd.shape == (170, 300, 3) and np.abs(odd.astype(int) - ref).mean() < 1.5
