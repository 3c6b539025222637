"""The mine stage end to end on a tiny generated video, plus every kind of bad input."""

from __future__ import annotations

import json
import shutil
import struct
import wave
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from aesformer.config import MineConfig
from aesformer.corpus import generate_video
from aesformer.errors import InputError
from aesformer.mining.stage import run
from aesformer.records import PairRecord, RejectRecord, read_jsonl
from tests.factories import MINING_CORPUS

pytestmark = pytest.mark.unit
TINY = MINING_CORPUS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("corpus")
    truth = generate_video(root, "tut_0000", seed=0, cfg=TINY)
    return root, truth


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def broll(n: int, size=(320, 180)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 255, (size[1], size[0] * 2, 3), np.uint8), (0, 0), 6)
    return [np.ascontiguousarray(base[:, i : i + size[0]]) for i in range(n)]


def rejects(out: Path) -> dict[str, str]:
    return {r.video_id: r.reason for r in read_jsonl(out / "rejects.jsonl", RejectRecord)}


def test_mines_events_of_a_generated_video(corpus, tmp_path):
    root, truth = corpus
    out = tmp_path / "mined"
    summary = run(MineConfig(), root / "videos", out)
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert summary["pairs"] == len(pairs) == 2 and summary["videos_failed"] == 0
    for p, ev in zip(pairs, truth.events, strict=True):
        fps = truth.fps
        assert ev.good.start_frame <= round(p.good_time_s * fps) < ev.good.end_frame
        assert ev.viewfinder.start_frame <= round(p.poor_time_s * fps) < ev.viewfinder.end_frame
        for rel in (p.poor_image, p.good_image, p.poor_raw_image, p.poor_mask_image):
            assert cv2.imread(str(out / rel)) is not None
        mask = cv2.imread(str(out / p.poor_mask_image), cv2.IMREAD_GRAYSCALE)
        raw = cv2.imread(str(out / p.poor_raw_image))
        changed = cv2.absdiff(raw, cv2.imread(str(out / p.poor_image))).max(axis=2) > 12
        assert set(np.unique(mask)) <= {0, 255} and ((mask > 0) == changed).all()
        assert 0.0 < (mask > 0).mean() < 0.5  # the subtitle was reconstructed, not the photo
        assert p.narration and p.checks["overlays_removed"] and "aesthetic" in p.scores
    report = json.loads((out / "report.json").read_text())
    assert report["videos"]["tut_0000"]["events"] == 2


def test_bad_inputs_are_recorded_and_others_go_on(corpus, tmp_path):
    root, _ = corpus
    vids = tmp_path / "in"
    vids.mkdir()
    good = root / "videos" / "tut_0000.mp4"
    shutil.copy(good, vids / "a_good.mp4")
    shutil.copy(good, vids / "b_dup.mp4")  # same bytes
    (vids / "c_empty.mp4").write_bytes(b"")
    (vids / "d_text.mp4").write_text("not a video at all\n")
    data = good.read_bytes()
    (vids / "e_truncated.mp4").write_bytes(data[: len(data) // 3])
    header = data[:64] + zlib.compress(b"")  # a container header, no frames
    (vids / "f_header_only.mp4").write_bytes(header)
    write_video(vids / "g_broll.mp4", broll(40))
    write_video(vids / "h_one_frame.mp4", broll(1))
    out = tmp_path / "mined"
    summary = run(MineConfig(), vids, out)
    reasons = rejects(out)
    assert reasons["b_dup"] == "duplicate_video"
    assert reasons["c_empty"] == "empty_file"
    assert reasons["d_text"] == "unreadable"
    assert reasons["e_truncated"] in {"unreadable", "no_frames", "no_events"}
    assert reasons["f_header_only"] in {"unreadable", "no_frames"}
    assert reasons["g_broll"] == "no_events" and reasons["h_one_frame"] == "no_events"
    assert summary["pairs"] == 2  # the good video was mined despite all the others


def with_display_rotation(mp4: bytes, degrees: int) -> bytes:
    """``mp4`` with its first track's display matrix (``tkhd``) set to rotate by ``degrees``,
    as phones record portrait video: stored pixels unchanged, players rotate on display."""
    i = mp4.index(b"tkhd")
    version = mp4[i + 4]
    times = 8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4
    offset = i + 4 + 4 + times + 8 + 2 + 2 + 2 + 2
    one = 0x00010000
    matrix = {90: (0, one, 0, -one, 0, 0), 270: (0, -one, 0, one, 0, 0)}[degrees]
    packed = struct.pack(">9i", *matrix, 0, 0, 0x40000000)
    return mp4[:offset] + packed + mp4[offset + 36 :]


def test_rotation_metadata_is_applied(corpus, tmp_path):
    """Frames stored sideways with a 90° display matrix are mined upright, like the original."""
    root, truth = corpus
    cap = cv2.VideoCapture(str(root / "videos" / "tut_0000.mp4"))
    frames = []
    while (got := cap.read())[0]:
        frames.append(cv2.rotate(got[1], cv2.ROTATE_90_COUNTERCLOCKWISE))
    sideways = write_video(tmp_path / "sideways.mp4", frames, fps=truth.fps)
    vids = tmp_path / "in"
    vids.mkdir()
    (vids / "phone.mp4").write_bytes(with_display_rotation(sideways.read_bytes(), 90))
    out = tmp_path / "mined"
    summary = run(MineConfig(), vids, out)
    report = json.loads((out / "report.json").read_text())["videos"]["phone"]
    assert (report["width"], report["height"], report["rotation_deg"]) == (640, 360, 90)
    assert summary["pairs"] == 2


def test_audio_only_files_are_rejected(corpus, tmp_path):
    root, _ = corpus
    vids = tmp_path / "in"
    vids.mkdir()
    with wave.open(str(vids / "a_wav.mp4"), "wb") as w:  # audio named .mp4
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(16000, np.int16).tobytes())
    mp4 = (root / "videos" / "tut_0000.mp4").read_bytes()
    at = mp4.index(b"vide", mp4.index(b"hdlr"))
    (vids / "b_sound_track.mp4").write_bytes(mp4[:at] + b"soun" + mp4[at + 4 :])  # no video track
    shutil.copy(root / "videos" / "tut_0000.mp4", vids / "c_good.mp4")
    summary = run(MineConfig(), vids, tmp_path / "mined")
    reasons = rejects(tmp_path / "mined")
    assert reasons["a_wav"] == "unreadable" and reasons["b_sound_track"] == "unreadable"
    assert summary["pairs"] == 2


def test_rotated_and_huge_videos(tmp_path, corpus):
    root, _ = corpus
    vids = tmp_path / "in"
    vids.mkdir()
    cap = cv2.VideoCapture(str(root / "videos" / "tut_0000.mp4"))
    frames = []
    while len(frames) < 120:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    write_video(vids / "portrait.mp4", [cv2.rotate(f, cv2.ROTATE_90_CLOCKWISE) for f in frames])
    write_video(vids / "uhd.mp4", [cv2.resize(f, (3840, 2160)) for f in frames[:30]])
    out = tmp_path / "mined"
    run(MineConfig(), vids, out)
    report = json.loads((out / "report.json").read_text())
    assert report["videos"]["portrait"]["width"] == 360  # decoded upright as a portrait video
    assert report["videos"]["uhd"]["width"] == 3840
    assert report["videos"]["uhd"]["frames"] == 30


def test_manifest_paths_cache_and_no_rewrite(corpus, tmp_path):
    root, _ = corpus
    data = tmp_path / "data"
    shutil.copytree(root / "videos", data / "videos")
    (tmp_path / "outside.mp4").write_bytes(b"x")
    lines = [
        {"path": "videos/tut_0000.mp4", "video_id": "tut_0000"},
        {"path": "videos/missing.mp4"},
        {"path": "../outside.mp4"},
        {"path": str(tmp_path / "outside.mp4")},
        {"uri": "https://example.invalid/v"},
    ]
    manifest = data / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines) + "{broken\n")
    out = tmp_path / "mined"
    first = run(MineConfig(), manifest, out)
    recs = list(read_jsonl(out / "rejects.jsonl", RejectRecord))
    by_reason = sorted(r.reason for r in recs)
    assert by_reason.count("path_escapes_root") == 2
    assert {"missing_file", "bad_manifest_line"} <= set(by_reason)
    assert {"downloader_unavailable", "download_failed"} & set(by_reason)
    images = sorted((out / "images").rglob("*.png"))
    stamps = {p: p.stat().st_mtime_ns for p in images}
    second = run(MineConfig(), manifest, out)
    assert second["videos_cached"] == 1 and second["videos_mined"] == 0
    assert second["pairs"] == first["pairs"] == 2
    assert {p: p.stat().st_mtime_ns for p in images} == stamps  # nothing rewritten
    # a run over other inputs keeps what was mined before
    other = tmp_path / "other"
    other.mkdir()
    write_video(other / "broll.mp4", broll(30))
    third = run(MineConfig(), other, out)
    assert third["pairs"] == 2
    # other mining params: mined again under a new cache key; the old entries stay
    changed = MineConfig(inpaint_radius=MineConfig().inpaint_radius + 1)
    fourth = run(changed, manifest, out)
    assert fourth["videos_mined"] == 1 and fourth["cache_key"] != first["cache_key"]
    assert {p.name for p in (out / "cache").iterdir()} == {first["cache_key"], fourth["cache_key"]}
    assert {p: p.stat().st_mtime_ns for p in images} == stamps  # earlier images untouched
    again = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert all(p.poor_image.startswith(f"images/{fourth['cache_key']}/") for p in again)


def test_missing_input_and_all_failed_raise(tmp_path):
    with pytest.raises(InputError):
        run(MineConfig(), tmp_path / "nope", tmp_path / "out")
    vids = tmp_path / "in"
    vids.mkdir()
    (vids / "x.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="every video failed"):
        run(MineConfig(), vids, tmp_path / "out")
    assert rejects(tmp_path / "out")["x"] == "empty_file"
