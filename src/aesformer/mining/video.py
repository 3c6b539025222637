"""Mining one video: decode, events, frame selection, overlay removal, narration, filters.

:func:`mine_video` is a pure, picklable top-level function (a process-pool or Prefect task):
it reads one video, writes that video's images under ``out_dir/images/<key>/<video_id>/`` and
its cache entry ``out_dir/cache/<key>/<sha256>.json`` (atomically, last), and returns a
:class:`VideoResult`. Failures of the whole video are returned as rejects, never raised.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from aesformer.config import MineConfig
from aesformer.mining.decode import (
    DecodedVideo,
    DecodeError,
    decode,
    downscale,
    read_frames,
)
from aesformer.mining.filters import filter_good
from aesformer.mining.good_frames import select_good
from aesformer.mining.inpaint import get_inpainter
from aesformer.mining.narration import (
    SubtitleMemory,
    band_text,
    change_points,
    get_narrator,
    join_subtitles,
    join_texts,
    read_bands,
    subtitle_rows,
    text_signature,
)
from aesformer.mining.ocr import get_reader
from aesformer.mining.overlays import CleanResult, clean_viewfinder, static_overlay_mask
from aesformer.mining.poor_frames import select_poor
from aesformer.mining.segments import (
    CutDetector,
    EventSpan,
    Span,
    find_events,
    smooth,
    transition_windows,
)
from aesformer.mining.ui import Box, content_box, detect_ui
from aesformer.records import PairRecord, RejectRecord, atomic_write_text, pair_id
from aesformer.scoring.aesthetic import get_scorer

STAGE = "mine"


@dataclass
class VideoResult:
    """Everything mined from one video (also its cache entry)."""

    video_id: str
    sha256: str
    source: str
    pairs: list[PairRecord] = field(default_factory=list)
    rejects: list[RejectRecord] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    failed: bool = False

    def to_json(self) -> str:
        return json.dumps(
            {
                "video_id": self.video_id,
                "sha256": self.sha256,
                "source": self.source,
                "pairs": [p.model_dump(mode="json") for p in self.pairs],
                "rejects": [r.model_dump(mode="json") for r in self.rejects],
                "report": self.report,
                "failed": self.failed,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> VideoResult:
        d = json.loads(text)
        return cls(
            video_id=d["video_id"],
            sha256=d["sha256"],
            source=d["source"],
            pairs=[PairRecord.model_validate(p) for p in d["pairs"]],
            rejects=[RejectRecord.model_validate(r) for r in d["rejects"]],
            report=d["report"],
            failed=d["failed"],
        )


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, step: str, t0: float) -> float:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - t0
        return now


def write_png(path: Path, image: np.ndarray) -> None:
    """Atomically write ``image`` as PNG (temporary file in the same folder, then rename)."""
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"cannot encode {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(buf.tobytes())
    tmp.replace(path)


# Params that change how a video is mined, not what is mined from it.
_NOT_IN_KEY = {"source", "workers", "runner"}


def cache_key(cfg: MineConfig) -> str:
    """Fingerprint of what decides a video's result: mining params and the miner's code.

    Changing a mining param or the code of ``aesformer.mining``/``aesformer.scoring`` gives a
    new key, so results mined under other settings are never reused (and never deleted).
    """
    digest = hashlib.sha256()
    params = cfg.model_dump(mode="json", exclude=_NOT_IN_KEY)
    digest.update(json.dumps(params, sort_keys=True).encode())
    here = Path(__file__).resolve().parent
    for source in sorted([*here.glob("*.py"), *(here.parent / "scoring").glob("*.py")]):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def reconstructed_mask(raw: np.ndarray, clean: np.ndarray, tolerance: int = 12) -> np.ndarray:
    """255 where overlay removal changed the crop (inpainted text, grid, icons; a brightened
    subtitle box) by more than ``tolerance`` levels in any channel, else 0: the pixels of the
    poor image that were reconstructed rather than observed (``PairRecord.poor_mask_image``)."""
    changed = cv2.absdiff(raw, clean).max(axis=2) > tolerance
    return changed.astype(np.uint8) * 255


def cache_path(out_dir: Path, sha256: str, key: str) -> Path:
    """The cache entry of one video mined under ``key`` (see :func:`cache_key`)."""
    return out_dir / "cache" / key / f"{sha256}.json"


def cut_detector(cfg: MineConfig, video_path: Path) -> CutDetector:
    """The cut detectors of ``cfg`` for ``video_path`` (its declared frame rate, else 25)."""
    probe = cv2.VideoCapture(str(video_path))
    fps = probe.get(cv2.CAP_PROP_FPS) or 25.0
    probe.release()
    return CutDetector(
        fps if 0 < fps < 1000 else 25.0,
        cfg.content_threshold,
        cfg.histogram_threshold,
        tuple(cfg.cut_detectors),
        cfg.adaptive_threshold,
        cfg.cut_width,
    )


def mine_video(
    cfg: MineConfig,
    video_path: Path,
    video_id: str,
    sha256: str,
    out_dir: Path,
    key: str | None = None,
) -> VideoResult:
    """Mine one video (see the module docstring); never raises for a bad video.

    ``key`` is the cache key the stage computed once for the whole run (default: computed
    here, :func:`cache_key`); the video's images and cache entry are filed under it.
    """
    key = key or cache_key(cfg)
    result = VideoResult(video_id, sha256, str(video_path))
    timer = _Timer()
    t0 = time.perf_counter()
    try:
        cuts = cut_detector(cfg, video_path)
        video = decode(video_path, cfg.analysis_width, cfg.sample_fps, on_frame=cuts)
        cuts.finish()
    except DecodeError as exc:
        result.failed = True
        result.rejects.append(_reject(result, exc.reason, exc.detail))
        result.report = {"seconds": {"decode": time.perf_counter() - t0}, "failed": exc.reason}
        return result
    t0 = timer.add("decode", t0)
    ui = {i: detect_ui(f) is not None for i, f in video.samples.items()}
    windows = transition_windows(video, cfg.fade_diff, cfg.fade_residual)
    events = find_events(video, ui, cuts.cuts, windows, cfg.min_viewfinder_samples)
    t0 = timer.add("segments", t0)
    result.report = {
        "frames": video.info.n_frames,
        "declared_frames": video.info.declared_frames,
        "fps": video.info.fps,
        "width": video.info.width,
        "height": video.info.height,
        "rotation_deg": video.info.rotation_deg,
        "cuts": len(cuts.cuts),
        "transitions": len(windows),
        "events": len(events),
        "viewfinder_samples": int(sum(ui.values())),
    }
    if not events:
        result.rejects.append(_reject(result, "no_events", "no viewfinder run followed by a photo"))
    t0 = time.perf_counter()
    static = static_overlay_mask(
        [video.fine[i] for i in video.sample_indices() if ui[i] and i in video.fine]
    )
    timer.add("overlays", t0)
    memory = SubtitleMemory()  # subtitles read once per video, reused across events
    for event in events:
        _mine_event(
            cfg,
            video_path,
            video,
            event,
            ui,
            windows,
            result,
            out_dir,
            timer,
            static,
            memory,
            key=key,
        )
    result.report["pairs"] = len(result.pairs)
    result.report["rejects"] = len(result.rejects)
    result.report["seconds"] = timer.seconds
    atomic_write_text(cache_path(out_dir, sha256, key), result.to_json())
    return result


def _mine_event(
    cfg: MineConfig,
    path: Path,
    video: DecodedVideo,
    event: EventSpan,
    ui: dict[int, bool],
    windows: list[Span],
    result: VideoResult,
    out_dir: Path,
    timer: _Timer,
    static: np.ndarray | None = None,
    memory: SubtitleMemory | None = None,
    *,
    key: str,
) -> None:
    fps = video.info.fps
    t0 = time.perf_counter()
    good = select_good(video, event, ui, cfg.still_diff, cfg.min_good_hold_s)
    poor = select_poor(video, event, cfg.still_diff, cfg.min_poor_hold_s)
    t0 = timer.add("select", t0)
    if good is None or poor is None:
        reason = "no_good_frame" if good is None else "no_poor_frame"
        t = (event.good.start if good is None else event.viewfinder.start) / fps
        result.rejects.append(_reject(result, reason, "", event.index, t))
        return
    frames = read_frames(path, [good.index, poor.index], video.samples)
    t0 = timer.add("read_frames", t0)
    if good.index not in frames or poor.index not in frames:
        result.rejects.append(
            _reject(result, "unreadable_frame", "", event.index, good.index / fps)
        )
        return
    reader = get_reader(cfg.ocr_backend, cfg.ocr_side_len)
    inpainter = get_inpainter(cfg.inpaint_backend, cfg.inpaint_radius)
    clean = clean_viewfinder(
        frames[poor.index],
        reader,
        inpainter,
        cfg.overlay_retries,
        cfg.text_dilate,
        cfg.min_text_score,
        static,
    )
    t0 = timer.add("overlays", t0)
    good_time, poor_time = good.index / fps, poor.index / fps
    pid = pair_id(result.sha256, good_time)
    if clean.reason is not None or clean.clean is None or clean.raw is None:
        result.rejects.append(
            _reject(
                result,
                clean.reason or "no_camera_ui",
                f"after {clean.attempts} attempts",
                event.index,
                poor_time,
                pid,
            )
        )
        return
    narration = _narration(cfg, path, video, event, clean, reader, memory, frames[poor.index])
    t0 = timer.add("narration", t0)
    good_frame = frames[good.index]
    good_img = content_box(good_frame).crop(good_frame)
    diff = float(smooth(video.diff)[good.index])
    in_transition = any(good.index in w for w in windows)
    scorer = get_scorer(cfg.aesthetic_scorer, cfg.aesthetic_weights, cfg.trust_remote_code_for)
    verdict = filter_good(
        good_img, cfg, scorer, diff, in_transition, _last_preview(video, event, ui)
    )
    t0 = timer.add("filters", t0)
    if verdict.reason is not None:
        result.rejects.append(
            _reject(
                result,
                verdict.reason,
                json.dumps(verdict.scores, sort_keys=True),
                event.index,
                good_time,
                pid,
            )
        )
        return
    rel = Path("images") / key / result.video_id  # results of other params kept
    names = {k: rel / f"{pid}_{k}.png" for k in ("poor", "poor_raw", "poor_mask", "good")}
    write_png(out_dir / names["poor"], clean.clean)
    write_png(out_dir / names["poor_raw"], clean.raw)
    write_png(out_dir / names["poor_mask"], reconstructed_mask(clean.raw, clean.clean))
    write_png(out_dir / names["good"], good_img)
    scores = dict(verdict.scores)
    scores.update(
        shade_gain=clean.shade_gain,
        grid_lines=float(clean.grid_lines),
        overlay_attempts=float(clean.attempts),
        good_sharpness_sample=good.sharpness,
        good_hold_s=len(good.hold) / fps,
        poor_hold_s=len(poor.hold) / fps,
    )
    checks = dict(verdict.checks)
    checks["overlays_removed"] = clean.residue == 0
    result.pairs.append(
        PairRecord(
            pair_id=pid,
            video_id=result.video_id,
            video_sha256=result.sha256,
            event_index=event.index,
            poor_time_s=round(poor_time, 6),
            good_time_s=round(good_time, 6),
            poor_image=names["poor"].as_posix(),
            good_image=names["good"].as_posix(),
            poor_raw_image=names["poor_raw"].as_posix(),
            poor_mask_image=names["poor_mask"].as_posix(),
            narration=narration,
            scores=scores,
            checks=checks,
        )
    )
    timer.add("write", t0)


def _narration(
    cfg: MineConfig,
    path: Path,
    video: DecodedVideo,
    event: EventSpan,
    clean: CleanResult,
    reader: Any,
    memory: SubtitleMemory | None = None,
    poor_frame: np.ndarray | None = None,
) -> str:
    """The event's narration text (subtitles by OCR, or ASR when configured).

    Subtitles: the band of each narration change is matched against ``memory`` (the poor
    frame's band, read by the overlay OCR, and the bands read for earlier events); only the
    bands not remembered are read, in one stacked OCR call.
    """
    fps = video.info.fps
    if cfg.narration_backend == "asr":
        return get_narrator(cfg.asr_model).transcribe(
            path, event.viewfinder.start / fps, event.viewfinder.end / fps
        )
    band = _subtitle_band(video, clean)
    s = video.scale
    idx = [i for i in video.sample_indices() if i in event.viewfinder]
    small = [Box(*(round(v * s) for v in band.as_list())).crop(video.samples[i]) for i in idx]
    picks = [idx[k] for k in change_points(small)]
    if not picks:
        return ""
    memory = SubtitleMemory() if memory is None else memory
    if poor_frame is not None and clean.lines:
        seed = poor_band(video, band, poor_frame)
        if seed is not None:
            text = band_text(clean.lines, band.y0, band.y1)
            memory.add(text_signature(seed), text)
    bands = narration_band_map(path, video, band, picks)
    texts: dict[int, str] = {}
    unknown: list[tuple[int, np.ndarray]] = []
    for i in picks:
        if i not in bands:
            continue
        sig = text_signature(bands[i])
        known = memory.lookup(sig)
        if known is None:
            unknown.append((i, sig))
        else:
            texts[i] = known
    if unknown:
        read = read_bands(reader, [bands[i] for i, _ in unknown], cfg.min_text_score)
        for (i, sig), text in zip(unknown, read, strict=True):
            texts[i] = text
            memory.add(sig, text)
    return join_subtitles(join_texts([texts[i] for i in picks if i in texts]))


def poor_band(video: DecodedVideo, band: Box, frame: np.ndarray) -> np.ndarray | None:
    """The subtitle ``band`` of the full-resolution poor ``frame``, made like the narration
    bands (gray at the decoding pass's fine width, as BGR) so their stroke patterns compare."""
    fine = next(iter(video.fine.values()), None)
    if fine is None or frame.shape[:2] != (video.info.height, video.info.width):
        return None
    gray = cv2.cvtColor(downscale(frame, (fine.shape[1], fine.shape[0])), cv2.COLOR_BGR2GRAY)
    crop = band.scaled(fine.shape[1] / video.info.width).crop(gray)
    return cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR) if crop.size else None


def narration_bands(
    path: Path, video: DecodedVideo, band: Box, picks: list[int]
) -> list[np.ndarray]:
    """The subtitle ``band`` (full-resolution box) of each picked sample, as BGR images.

    Taken from the gray frames the decoding pass kept (``video.fine``, at most 640 px wide:
    subtitles stay legible there and OCR detects on a quarter of a 720p band), so no frame is
    decoded again; a pick without one is read back at full resolution.
    """
    out = narration_band_map(path, video, band, picks)
    return [out[i] for i in picks if i in out]


def narration_band_map(
    path: Path, video: DecodedVideo, band: Box, picks: list[int]
) -> dict[int, np.ndarray]:
    """:func:`narration_bands` by sample index (empty crops left out)."""
    out: dict[int, np.ndarray] = {}
    for i in picks:
        fine = video.fine.get(i)
        if fine is not None:
            crop = band.scaled(fine.shape[1] / video.info.width).crop(fine)
            out[i] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    missing = [i for i in picks if i not in out]
    if missing:
        frames = read_frames(path, missing, video.samples)
        out.update({i: band.crop(f) for i, f in frames.items()})
    return {i: b for i, b in out.items() if b.size}


def _subtitle_band(video: DecodedVideo, clean: CleanResult) -> Box:
    """Full-resolution rows holding the subtitle (:func:`subtitle_rows`: its lines among the
    poor frame's text, room for one more line), else the lower 40 % of the photo."""
    w, h = video.info.width, video.info.height
    rows = subtitle_rows(clean.lines, h)
    if rows is not None:
        return Box(0, rows[0], w, rows[1])
    box = clean.photo_box or Box(0, 0, w, h)
    return Box(0, box.y0 + box.h * 6 // 10, w, box.y1)


def _last_preview(video: DecodedVideo, event: EventSpan, ui: dict[int, bool]) -> np.ndarray | None:
    """The photo part of the last viewfinder sample before the cut (analysis size)."""
    for i in reversed([i for i in video.sample_indices() if i in event.viewfinder and ui[i]]):
        found = detect_ui(video.samples[i])
        if found is not None:
            preview = found.preview.crop(video.samples[i])
            return content_box(preview).crop(preview)
    return None


def _reject(
    result: VideoResult,
    reason: str,
    detail: str,
    event_index: int | None = None,
    time_s: float | None = None,
    pid: str | None = None,
) -> RejectRecord:
    return RejectRecord(
        stage=STAGE,
        reason=reason,
        video_id=result.video_id,
        source=result.source,
        event_index=event_index,
        time_s=None if time_s is None else round(time_s, 6),
        pair_id=pid,
        detail=detail,
    )
