"""The bad-input corpus: generated bad videos, manifests, images, pair and plan records and
params files, each beside valid items, with the outcome each must have.

:data:`CASES` is the single list of cases; ``tests/integration/test_bad_inputs.py`` builds
them (the ``build_*`` functions below), runs the real stage once per stage over all of them
and checks every case's recorded outcome, and that the valid items beside them were processed.
``python -m tests.badinputs`` prints the Markdown table of ``docs/reliability.md`` (a test keeps
the two equal).

Outcomes are the reject ``reason`` the stage records for the item (``RejectRecord.reason`` in
its ``rejects.jsonl``), ``mined`` / ``kept`` when the item is a valid, processed input despite
its oddity, or ``config_error`` for params files (a :class:`~aesformer.errors.ConfigError`
naming the file and the key).
"""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from aesformer.fileio import write_png


@dataclass(frozen=True)
class Case:
    """One bad input: its name (the item's id in the stage's records), the stage that reads it,
    what it is, and the outcome it must have."""

    name: str
    stage: str
    what: str
    outcome: str
    detail: str = ""  # a substring the recorded detail / error message must contain
    pairs: int | None = None  # outcome "mined": the pairs the video must give


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ videos (stage mine)
    Case("video_zero_byte", "mine", "a zero-byte `.mp4`", "empty_file", "zero bytes"),
    Case("video_truncated", "mine", "the first 40 % of a valid MP4 (no `moov`)", "unreadable"),
    Case(
        "video_wrong_container",
        "mine",
        "PNG bytes named `.mp4` (FFmpeg probes the content: one still frame)",
        "no_events",
    ),
    Case("video_text_as_mkv", "mine", "a text file named `.mkv`", "unreadable"),
    Case("video_audio_only", "mine", "an MP4 with one AAC audio stream", "unreadable"),
    Case("video_one_frame", "mine", "an MP4 of a single frame", "no_events"),
    Case("video_8k", "mine", "7680×4320, 4 frames", "no_events"),
    Case(
        "video_rotated",
        "mine",
        "the valid video with a 90° display matrix (decoded upright, 360×640)",
        "mined",
        pairs=2,
    ),
    Case(
        "video_vfr",
        "mine",
        "the valid video re-timed to a variable frame rate",
        "mined",
        pairs=2,
    ),
    Case(
        "video_corrupt_packets",
        "mine",
        "the valid video with 3 % of its bytes overwritten mid-stream (decoding stops at the "
        "damage: `frames` < `declared_frames` in `report.json`; the prefix is mined)",
        "mined",
        pairs=1,
    ),
    Case("video_duplicate", "mine", "a byte-identical copy of the valid video", "duplicate_video"),
    # --------------------------------------------------------------- manifests (stage mine)
    Case("manifest_path_traversal", "mine", '`{"path": "../outside.mp4"}`', "path_escapes_root"),
    Case("manifest_absolute_path", "mine", '`{"path": "/etc/hostname"}`', "path_escapes_root"),
    Case("manifest_file_uri", "mine", '`{"uri": "file:///etc/passwd"}`', "unsupported_uri"),
    Case(
        "manifest_shell_in_path",
        "mine",
        "a path holding `; touch PWNED` and `$(…)` (never run)",
        "missing_file",
    ),
    Case(
        "manifest_shell_in_uri",
        "mine",
        "an `ftp://` URI holding backticks and `$(…)` (never run)",
        "unsupported_uri",
    ),
    Case(
        "manifest_unreachable_url",
        "mine",
        "an `s3://` object on an endpoint where nothing listens",
        "download_failed",
    ),
    Case("manifest_bad_json", "mine", "a manifest line that is not JSON", "bad_manifest_line"),
    Case(
        "manifest_sha256_mismatch",
        "mine",
        "a manifest `sha256` that is not the file's",
        "sha256_mismatch",
    ),
    # ---------------------------------------------------------------- images (stage align)
    Case("image_truncated_png", "align", "a PNG cut in half", "image_unreadable", "truncated"),
    Case("image_truncated_jpeg", "align", "a JPEG cut in half", "image_unreadable", "truncated"),
    Case("image_1x1", "align", "a 1×1 PNG", "image_unreadable", "below the 8-pixel minimum"),
    Case(
        "image_huge",
        "align",
        "a 67-byte PNG whose header claims 200000×200000 pixels",
        "image_unreadable",
        "too many pixels",
    ),
    Case("image_empty", "align", "a zero-byte PNG", "image_unreadable", "empty file"),
    Case("image_cmyk_jpeg", "align", "the good photo as a CMYK JPEG", "kept"),
    Case("image_16bit_png", "align", "the good photo as a 16-bit PNG", "kept"),
    Case(
        "image_path_traversal",
        "align",
        'an image path `"../../../etc/passwd"`',
        "image_unreadable",
        "outside the pairs folder",
    ),
    # ------------------------------------------------------------ pair records (stage align)
    Case("pair_missing_field", "align", "a pair line without `good_image`", "bad_record"),
    Case("pair_wrong_type", "align", 'a pair line with `"event_index": "three"`', "bad_record"),
    Case("pair_non_utf8", "align", "a pair line with Latin-1 bytes", "bad_record", "UTF-8"),
    Case("pair_not_json", "align", "a pair line that is not JSON", "bad_record"),
    # ----------------------------------------------------------------- plans (stage split)
    Case(
        "plan_wrong_order",
        "split",
        "`plan_text` with the Camera and Position lines swapped",
        "bad_plan",
        "out_of_order",
    ),
    Case(
        "plan_injected_tag",
        "split",
        "an action holding `</Ratio><Camera>`",
        "bad_plan",
        "does not parse",
    ),
    Case(
        "plan_missing_dimension",
        "split",
        "`plan_text` without the Color line",
        "bad_plan",
        "missing",
    ),
    Case(
        "plan_keys_out_of_order",
        "split",
        "`plan` keyed in another order than the dimensions",
        "bad_plan",
        "plan order",
    ),
    Case("plan_differs", "split", "`plan` and `plan_text` disagree", "bad_plan", "differs"),
    Case("plan_null", "split", "a pair with `plan: null`", "no_plan"),
    # ----------------------------------------------------------------------- params files
    Case(
        "params_unknown_key",
        "params",
        "`mine.bogus_knob: 1`",
        "config_error",
        "mine.bogus_knob",
    ),
    Case(
        "params_negative_size",
        "params",
        "`mine.analysis_width: -64`",
        "config_error",
        "mine.analysis_width",
    ),
    Case(
        "params_wrong_type",
        "params",
        '`mine.sample_fps: "fast"`',
        "config_error",
        "mine.sample_fps",
    ),
    Case("params_not_yaml", "params", "a params file that is not YAML", "config_error"),
)


def cases(stage: str) -> list[Case]:
    """The cases of one stage, in table order."""
    return [c for c in CASES if c.stage == stage]


def table() -> str:
    """The Markdown table of the cases (``docs/reliability.md``)."""
    rows = ["| case | stage | input | outcome |", "|---|---|---|---|"]
    rows += [f"| `{c.name}` | {c.stage} | {c.what} | {_outcome(c)} |" for c in CASES]
    return "\n".join(rows)


def _outcome(case: Case) -> str:
    if case.pairs is not None:
        return f"`{case.outcome}` ({case.pairs} pair{'s' * (case.pairs != 1)})"
    return f"`{case.outcome}`"


# ---------------------------------------------------------------------------- videos
def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame (BGR) of a video and its frame rate."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(frame)
        ok, frame = cap.read()
    cap.release()
    return frames, fps


def write_video(
    path: Path, frames: list[np.ndarray], fps: float, pts_ms: list[int] | None = None
) -> None:
    """Encode BGR frames as MPEG-4 Part 2 in MP4 with PyAV; ``pts_ms`` gives each frame's
    presentation time in milliseconds (a variable frame rate) instead of ``1/fps`` steps."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.bit_rate = 4_000_000
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_audio_only(path: Path, seconds: float = 2.0, rate: int = 44100) -> None:
    """An MP4 holding one AAC audio stream (a 440 Hz tone) and no video stream."""
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        t = np.arange(int(seconds * rate)) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        size = stream.codec_context.frame_size or 1024
        for start in range(0, len(tone) - size, size):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + size], format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def set_rotation(path: Path, degrees: int) -> None:
    """Rewrite the display matrix of the (first) track header of an MP4 in place: the
    rotation players and OpenCV apply on decoding. Only 90 is needed here."""
    assert degrees == 90
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd")
    version = data[at + 4]
    # tkhd: type(4) version/flags(4) times+ids (v0: 20 bytes, v1: 32) reserved(8) layer,
    # group, volume, reserved (8), then the 3x3 matrix of 16.16 / 2.30 fixed-point numbers
    offset = at + 4 + 4 + (32 if version == 1 else 20) + 8 + 8
    matrix = (0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    data[offset : offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def build_videos(folder: Path, valid: Path, outside: Path) -> Path:
    """The video and manifest cases beside the valid video ``valid`` (copied in as
    ``valid.mp4``), in ``folder`` with a ``manifest.jsonl``; returns the manifest. ``outside``
    is a folder beside (not inside) ``folder`` for the path-traversal target."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(valid, folder / "valid.mp4")
    data = valid.read_bytes()
    frames, fps = read_video(valid)
    (folder / "video_zero_byte.mp4").write_bytes(b"")
    (folder / "video_truncated.mp4").write_bytes(data[: int(len(data) * 0.4)])
    ok, png = cv2.imencode(".png", frames[0])
    assert ok
    (folder / "video_wrong_container.mp4").write_bytes(png.tobytes())
    (folder / "video_text_as_mkv.mkv").write_text("this is not a video\n" * 50)
    write_audio_only(folder / "video_audio_only.mp4")
    write_video(folder / "video_one_frame.mp4", frames[:1], fps)
    big = cv2.resize(frames[0], (7680, 4320), interpolation=cv2.INTER_LINEAR)
    write_video(folder / "video_8k.mp4", [big] * 4, fps)
    shutil.copyfile(valid, folder / "video_rotated.mp4")
    set_rotation(folder / "video_rotated.mp4", 90)
    step = 1000.0 / fps
    jitter = [round(i * step + (0.3 * step if i % 3 == 1 else 0.0)) for i in range(len(frames))]
    write_video(folder / "video_vfr.mp4", frames, fps, pts_ms=jitter)
    corrupt = bytearray(data)
    rng = np.random.default_rng(7)
    start, length = len(data) // 2, len(data) * 3 // 100
    corrupt[start : start + length] = rng.integers(0, 256, length, dtype=np.uint8).tobytes()
    (folder / "video_corrupt_packets.mp4").write_bytes(bytes(corrupt))
    shutil.copyfile(valid, folder / "video_duplicate.mp4")

    outside.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(valid, outside / "outside.mp4")
    entries: list[dict[str, str] | str] = [
        {"path": "valid.mp4"},
        *(
            {"path": p.name}
            for p in sorted(folder.iterdir())
            if p.name.startswith("video_") and p.is_file()
        ),
        {"path": f"../{outside.name}/outside.mp4", "video_id": "manifest_path_traversal"},
        {"path": "/etc/hostname", "video_id": "manifest_absolute_path"},
        {"uri": "file:///etc/passwd", "video_id": "manifest_file_uri"},
        {"path": "valid.mp4; touch PWNED $(touch PWNED2)", "video_id": "manifest_shell_in_path"},
        {"uri": "ftp://host/`touch PWNED3`$(id).mp4", "video_id": "manifest_shell_in_uri"},
        {"uri": "s3://bucket/video.mp4", "video_id": "manifest_unreachable_url"},
        '{"path": "valid.mp4", "video_id": "manifest_bad_json"',
        {"path": "valid.mp4", "video_id": "manifest_sha256_mismatch", "sha256": "0" * 64},
    ]
    manifest = folder / "manifest.jsonl"
    manifest.write_text(
        "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in entries)
    )
    return manifest


# ---------------------------------------------------------------------------- images
def png_header_only(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG start whose header claims ``width`` × ``height`` pixels (a
    decompression bomb's signature: decoding it would need width·height·3 bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 8))


def build_images(root: Path, poor: np.ndarray, good: np.ndarray) -> dict[str, tuple[str, str]]:
    """Image files for the image cases under ``root/images``: ``{case: (poor, good)}`` paths
    relative to ``root``; ``valid`` is the true pair, the others replace one of its images."""
    from PIL import Image

    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    write_png(images / "poor.png", poor)
    write_png(images / "good.png", good)
    png = (images / "good.png").read_bytes()
    ok, jpeg = cv2.imencode(".jpg", good, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    (images / "truncated.png").write_bytes(png[: len(png) // 2])
    (images / "truncated.jpg").write_bytes(jpeg.tobytes()[: jpeg.size // 2])
    write_png(images / "one.png", good[:1, :1])
    (images / "huge.png").write_bytes(png_header_only(200_000, 200_000))
    (images / "empty.png").write_bytes(b"")
    rgb = Image.fromarray(cv2.cvtColor(good, cv2.COLOR_BGR2RGB))
    rgb.convert("CMYK").save(images / "cmyk.jpg", quality=95)
    cv2.imwrite(str(images / "deep.png"), good.astype(np.uint16) * 257)
    poor_rel, good_rel = "images/poor.png", "images/good.png"
    return {
        "valid": (poor_rel, good_rel),
        "image_truncated_png": (poor_rel, "images/truncated.png"),
        "image_truncated_jpeg": ("images/truncated.jpg", good_rel),
        "image_1x1": (poor_rel, "images/one.png"),
        "image_huge": (poor_rel, "images/huge.png"),
        "image_empty": ("images/empty.png", good_rel),
        "image_cmyk_jpeg": (poor_rel, "images/cmyk.jpg"),
        "image_16bit_png": (poor_rel, "images/deep.png"),
        "image_path_traversal": ("../../../etc/passwd", good_rel),
    }


def bad_pair_lines(template: dict) -> dict[str, bytes]:
    """The pair-record cases as raw ``pairs.jsonl`` lines, from a valid record's JSON."""
    missing = {k: v for k, v in template.items() if k != "good_image"}
    wrong = {**template, "event_index": "three"}
    latin = json.dumps({**template, "narration": "NARRATION"}).encode()
    return {
        "pair_missing_field": json.dumps(missing).encode(),
        "pair_wrong_type": json.dumps(wrong).encode(),
        "pair_non_utf8": latin.replace(b"NARRATION", "café crème".encode("latin-1")),
        "pair_not_json": b"{'pair_id': 'pair_not_json', this is not JSON",
    }


# ----------------------------------------------------------------------------- plans
def bad_plans(plan: dict[str, str], text: str) -> dict[str, tuple[dict[str, str] | None, str]]:
    """``{case: (plan, plan_text)}`` for the plan cases, from one valid plan and its text."""
    lines = text.split("\n")
    swapped = [*lines[:2], lines[3], lines[2], *lines[4:]]
    injected = dict(plan, aspect_ratio="Crop to 3:4 </Ratio><Camera>low angle")
    injected_text = text.replace(plan["aspect_ratio"], injected["aspect_ratio"], 1)
    reordered = dict(reversed(list(plan.items())))
    differs = dict(plan, pose="Raise the chin slightly")
    return {
        "plan_wrong_order": (plan, "\n".join(swapped)),
        "plan_injected_tag": (injected, injected_text),
        "plan_missing_dimension": (plan, "\n".join(lines[:-1])),
        "plan_keys_out_of_order": (reordered, text),
        "plan_differs": (differs, text),
        "plan_null": (None, text),
    }


# ---------------------------------------------------------------------------- params
def bad_params(folder: Path, valid: Path) -> dict[str, Path]:
    """A params file per params case, each the valid ``valid`` file with one fault."""
    import yaml

    base = yaml.safe_load(valid.read_text())
    faults = {
        "params_unknown_key": ("mine", "bogus_knob", 1),
        "params_negative_size": ("mine", "analysis_width", -64),
        "params_wrong_type": ("mine", "sample_fps", "fast"),
    }
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for name, (section, key, value) in faults.items():
        data = json.loads(json.dumps(base))
        data[section][key] = value
        out[name] = folder / f"{name}.yaml"
        out[name].write_text(yaml.safe_dump(data, sort_keys=False))
    out["params_not_yaml"] = folder / "params_not_yaml.yaml"
    out["params_not_yaml"].write_text("mine: [unclosed\n  analysis_width: : :\n\t- tab")
    return out


if __name__ == "__main__":
    print(table())
