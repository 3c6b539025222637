"""Decoding pass: signals, sampling grid, downscaling, seek-back with verification."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.mining.decode import (
    DecodeError,
    ReadAhead,
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


def test_read_ahead_decodes_exactly_what_one_thread_decodes(tmp_path):
    path = make_video(tmp_path / "v.mp4", n=40)
    one = decode(path, 160, 2.0, read_ahead=0)
    for depth in (1, 4):
        ahead = decode(path, 160, 2.0, read_ahead=depth)
        assert ahead.info == one.info
        for name in ("diff", "luma", "thumbs"):
            assert np.array_equal(getattr(ahead, name), getattr(one, name)), name
        assert ahead.samples.keys() == one.samples.keys() and ahead.fine.keys() == one.fine.keys()
        assert all(np.array_equal(ahead.samples[i], one.samples[i]) for i in one.samples)
        assert all(np.array_equal(ahead.fine[i], one.fine[i]) for i in one.fine)


class BrokenCapture:
    """A capture whose decoder fails after ``good`` frames (as a corrupt stream can)."""

    def __init__(self, good: int) -> None:
        self.good, self.calls = good, 0

    def read(self):
        self.calls += 1
        if self.calls > self.good:
            raise cv2.error("decoder failed")
        return True, np.zeros((4, 4, 3), np.uint8)


def test_read_ahead_hands_a_decoding_error_to_the_caller():
    with ReadAhead(BrokenCapture(good=3), depth=2) as ahead:
        assert [ahead.read()[0] for _ in range(3)] == [True] * 3
        with pytest.raises(cv2.error, match="decoder failed"):
            ahead.read()
        assert ahead.read() == (False, None)  # and then ends, never blocks


def test_read_ahead_stops_reading_when_closed_early(tmp_path):
    cap = cv2.VideoCapture(str(make_video(tmp_path / "v.mp4", n=60)))
    ahead = ReadAhead(cap, depth=3)
    assert ahead.read()[0] and ahead.read()[0]
    ahead.close()  # the caller stopped (e.g. a stream that changed size): the thread ends
    assert not ahead._thread.is_alive()
    cap.release()


def test_read_ahead_ends_like_the_capture(tmp_path):
    cap = cv2.VideoCapture(str(make_video(tmp_path / "v.mp4", n=7)))
    with ReadAhead(cap, depth=2) as ahead:
        assert sum(1 for _ in iter(lambda: ahead.read()[0], False)) == 7
        assert ahead.read() == (False, None)
    cap.release()


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
