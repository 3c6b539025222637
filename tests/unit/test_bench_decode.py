"""bench/decode.py runs end to end on a small corpus and prints its side-by-side table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_mining_decode import make_video

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_bench_prints_both_passes_per_frame_size(tmp_path):
    (tmp_path / "videos").mkdir()
    make_video(tmp_path / "videos" / "a.mp4", n=20)
    make_video(tmp_path / "videos" / "b.mp4", n=20, size=(640, 360))
    done = subprocess.run(
        [sys.executable, str(REPO / "bench/decode.py"), "--corpus", str(tmp_path), "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "same signals checked" in lines[0]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows.keys() == {"320x180", "640x360"}
    # three times (seconds; a 20-frame 320x180 video can decode in under a millisecond on a
    # quiet machine, printed 0.000), then three ratios of them (non-zero)
    for values in rows.values():
        assert len(values) == 6
        assert all(float(v) >= 0 for v in values[:3]) and all(float(v) > 0 for v in values[3:])
