"""The corpus stage end to end: determinism, manifest, pruning, summary, output errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer import fileio as files
from aesformer.config import CorpusConfig
from aesformer.corpus import load_truth, read_manifest
from aesformer.corpus.stage import run
from aesformer.errors import OutputError

pytestmark = pytest.mark.unit

CFG = CorpusConfig(
    videos=2,
    seed=11,
    resolutions=[(320, 180)],
    fps=[10],
    events_per_video=(2, 3),
    viewfinder_seconds=(1.2, 1.6),
    good_hold_seconds=(0.6, 0.8),
    transition_seconds=(0.3, 0.4),
)


def _outputs(out: Path) -> dict[str, bytes]:
    """Every truth file (JSON and PNG) by relative path."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted((out / "truth").rglob("*"))
        if p.is_file()
    }


def _decode(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            return frames
        frames.append(frame)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float]]:
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    summary = run(CFG, a)
    run(CFG, b)
    return a, b, summary


def test_same_seed_gives_identical_outputs(runs) -> None:
    a, b, _ = runs
    truth_a = _outputs(a)
    assert truth_a == _outputs(b)
    assert sum(k.endswith(".png") for k in truth_a) >= 8
    for vid in ("tut_0000", "tut_0001"):
        fa, fb = _decode(a / "videos" / f"{vid}.mp4"), _decode(b / "videos" / f"{vid}.mp4")
        assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))


def test_manifest_hashes_the_videos(runs) -> None:
    a, _, _ = runs
    entries = read_manifest(a / "manifest.jsonl")
    assert [e.video_id for e in entries] == ["tut_0000", "tut_0001"]
    for e in entries:
        truth = load_truth(a / "truth" / f"{e.video_id}.json")
        assert e.sha256 == files.sha256_file(a / e.path)
        assert (e.n_frames, e.fps, e.width, e.height, e.duration_s) == (
            truth.n_frames,
            truth.fps,
            truth.width,
            truth.height,
            truth.duration_s,
        )


def test_summary_counts_the_corpus(runs) -> None:
    a, _, summary = runs
    truths = [load_truth(a / "truth" / f"tut_000{i}.json") for i in range(2)]
    assert summary["videos"] == 2
    assert summary["events"] == sum(len(t.events) for t in truths)
    assert summary["frames"] == sum(t.n_frames for t in truths)
    assert summary["duration_s"] == pytest.approx(sum(t.duration_s for t in truths))
    assert all(isinstance(v, int | float) for v in summary.values()) and summary["seconds"] > 0
    assert all(2 <= len(t.events) <= 3 for t in truths)


def test_other_seed_differs_and_fewer_videos_keep_the_first_and_prune(runs, tmp_path: Path) -> None:
    a, b, _ = runs
    shutil.copytree(a, tmp_path / "c")
    c = tmp_path / "c"
    (c / "videos" / ".tut_0000.partial.mp4").write_bytes(b"interrupted")
    run(CFG.model_copy(update={"videos": 1}), c)
    assert sorted(p.name for p in (c / "videos").iterdir()) == ["tut_0000.mp4"]
    assert sorted(p.name for p in (c / "truth").iterdir()) == ["tut_0000", "tut_0000.json"]
    assert len(read_manifest(c / "manifest.jsonl")) == 1
    assert _outputs(c) == {k: v for k, v in _outputs(b).items() if "tut_0000" in k}

    run(CFG.model_copy(update={"videos": 1, "seed": 12}), tmp_path / "d")
    assert (tmp_path / "d" / "truth" / "tut_0000.json").read_bytes() != (
        c / "truth" / "tut_0000.json"
    ).read_bytes()


def test_unwritable_output_raises_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="not_a_folder"):
        run(CFG.model_copy(update={"videos": 1}), blocker / "raw")


def test_codec_that_cannot_open_raises_output_error(tmp_path: Path) -> None:
    probe = cv2.VideoWriter(
        str(tmp_path / "probe.mp4"), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"avc1"), 10, (64, 64)
    )
    opened = probe.isOpened()
    probe.release()
    if opened:
        pytest.skip(
            "this OpenCV build can encode avc1 (covered with a fake writer in test_corpus_video)"
        )
    with pytest.raises(OutputError, match=r"tut_0000\.mp4.*'avc1'"):
        run(CFG.model_copy(update={"videos": 1, "codec": "avc1"}), tmp_path / "raw")
    assert not list((tmp_path / "raw" / "videos").iterdir())
