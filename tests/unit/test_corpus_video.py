"""Encoding: noise bank, atomic video sink, codec errors, transition blends."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.corpus import video
from aesformer.corpus.video import NoiseBank, VideoSink, blend
from aesformer.errors import OutputError

pytestmark = pytest.mark.unit
SIZE = (96, 64)


def _frames(n: int) -> list[np.ndarray]:
    return [np.full((SIZE[1], SIZE[0], 3), 20 + 10 * i, np.uint8) for i in range(n)]


def test_noise_bank_is_zero_mean_with_the_sigma() -> None:
    bank = NoiseBank(np.random.default_rng(0), 3.0, (200, 100))
    flat = np.full((100, 200, 3), 128, np.uint8)
    noisy = np.stack([bank.apply(flat, i) for i in range(10)]).astype(float) - 128
    assert abs(noisy.mean()) < 0.1 and noisy.std() == pytest.approx(3.0, rel=0.05)
    assert (bank.apply(flat, 0) == bank.apply(flat, video.NOISE_BANK)).all()
    assert not (bank.apply(flat, 0) == bank.apply(flat, 1)).all()
    quiet = NoiseBank(np.random.default_rng(0), 0.0, (200, 100))
    assert quiet.apply(flat, 0) is flat


def test_sink_writes_a_decodable_video_atomically(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    with VideoSink(path, "mp4v", 10, SIZE, NoiseBank(np.random.default_rng(0), 0.0, SIZE)) as sink:
        for f in _frames(12):
            sink.write(f)
        assert not path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]
    cap = cv2.VideoCapture(str(path))
    decoded = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        decoded.append(f)
    assert len(decoded) == 12 and cap.get(cv2.CAP_PROP_FPS) == 10
    assert decoded[0].shape == (64, 96, 3)
    assert abs(float(decoded[5].mean()) - 70) < 3


def test_interrupted_sink_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v.mp4"
    with (
        pytest.raises(KeyboardInterrupt),
        VideoSink(path, "mp4v", 10, SIZE, NoiseBank(np.random.default_rng(0), 0, SIZE)) as sink,
    ):
        sink.write(_frames(1)[0])
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_wrong_frame_size_is_rejected(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="does not match"),
        VideoSink(
            tmp_path / "v.mp4", "mp4v", 10, SIZE, NoiseBank(np.random.default_rng(0), 0, SIZE)
        ) as sink,
    ):
        sink.write(np.zeros((10, 10, 3), np.uint8))


class _ClosedWriter:
    """A VideoWriter whose codec cannot be opened."""

    def __init__(self, *args: object) -> None:
        pass

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return False

    def release(self) -> None:
        pass


def test_unavailable_codec_raises_output_error_naming_codec_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(video.cv2, "VideoWriter", _ClosedWriter)
    path = tmp_path / "v.mp4"
    with (
        pytest.raises(OutputError, match=r"v\.mp4.*'avc1'"),
        VideoSink(path, "avc1", 10, SIZE, NoiseBank(np.random.default_rng(0), 0, SIZE)),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_crossfade_mixes_both_stills() -> None:
    a, b = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)
    frames = [blend("crossfade", a, b, k, 3) for k in range(3)]
    assert [int(f[0, 0, 0]) for f in frames] == [50, 100, 150]


def test_fade_black_dips_to_black() -> None:
    a, b = np.full((4, 4, 3), 200, np.uint8), np.full((4, 4, 3), 100, np.uint8)
    levels = [int(blend("fade_black", a, b, k, 10)[0, 0, 0]) for k in range(10)]
    assert levels[0] == 180 and levels[4] == 20 and levels[5] == 10 and levels[9] == 90
    assert levels[:5] == sorted(levels[:5], reverse=True) and levels[5:] == sorted(levels[5:])
    with pytest.raises(ValueError):
        blend("wipe", a, b, 0, 2)
