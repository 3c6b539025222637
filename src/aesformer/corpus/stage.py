"""Stage ``corpus``: generate the sample tutorial-video corpus with exact ground truth.

Writes under ``out``: ``videos/<id>.mp4``, ``truth/<id>.json`` (+ ``truth/<id>/*.png``) and
``manifest.jsonl`` (schema: ``docs/data-contracts.md``). Video ``i`` is generated from
``derive_seed(cfg.seed, i)`` alone, so the corpus is deterministic and adding videos leaves the
earlier ones unchanged. Videos are generated in parallel processes (one per CPU core, at most
one per video). Outputs of ids that are no longer part of the corpus are removed, so the
folder always matches the configuration (it is a DVC-owned output).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import cv2

from aesformer import fileio as files
from aesformer.config import CorpusConfig
from aesformer.corpus.footage import require_footage
from aesformer.corpus.generate import generate_video, plan_video, video_id
from aesformer.corpus.seeds import derive_seed
from aesformer.corpus.truth import ManifestEntry, VideoTruth
from aesformer.progress import track
from aesformer.runtime import setup_logging

log = logging.getLogger("aesformer.corpus.stage")
MANIFEST = "manifest.jsonl"
ID_PATTERN = re.compile(r"^tut_\d{4,}$")

Job = tuple[Path, str, int, CorpusConfig]


def _generate(job: Job) -> VideoTruth:
    return generate_video(*job)


def _init_worker(log_level: int | None) -> None:
    """Worker set-up: the parent's logging, one OpenCV thread (the processes use every core)."""
    if log_level is not None:
        setup_logging(log_level)
    cv2.setNumThreads(1)


def _parent_log_level() -> int | None:
    """The root log level when logging is configured (workers then log the same way)."""
    root = logging.getLogger()
    return root.level if root.handlers else None


def _workers(n_videos: int) -> int:
    """One process per usable CPU core, at most one per video."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(n_videos, cores or 1))


def _cost(job: Job) -> int:
    """Relative generation cost of a job (pixels to encode), for longest-first scheduling."""
    plan = plan_video(job[2], job[3])
    return plan.timeline.n_frames * plan.size[0] * plan.size[1]


def _generate_all(jobs: list[Job], workers: int) -> Iterator[VideoTruth]:
    """Generate every job inline or in a pool of ``workers`` processes; yields as they finish."""
    if workers == 1:
        yield from map(_generate, jobs)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(_parent_log_level(),),
    )
    try:
        futures = [pool.submit(_generate, job) for job in sorted(jobs, key=_cost, reverse=True)]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def manifest_entry(out: Path, truth: VideoTruth) -> ManifestEntry:
    """The manifest line of a generated video (hashes the mp4)."""
    rel = f"videos/{truth.video_id}.mp4"
    return ManifestEntry(
        video_id=truth.video_id,
        path=rel,
        sha256=files.sha256_file(out / rel),
        duration_s=truth.duration_s,
        fps=truth.fps,
        width=truth.width,
        height=truth.height,
        n_frames=truth.n_frames,
    )


def _video_of(path: Path) -> str | None:
    """The video id an output belongs to (``videos/<id>.mp4``, ``truth/<id>.json``, ``truth/<id>``)."""
    name = path.stem if path.is_file() else path.name
    return name if ID_PATTERN.match(name) else None


def _prune(out: Path, keep: set[str]) -> None:
    """Remove outputs of video ids that are not part of this corpus any more."""
    for folder in (out / "videos", out / "truth"):
        for path in sorted(folder.iterdir()):
            vid = _video_of(path)
            if vid is not None and vid not in keep:
                log.info("removing stale output %s", path)
                files.remove(path)


def run(cfg: CorpusConfig, out: Path) -> dict[str, float]:
    """Generate the corpus described by ``cfg`` into ``out``; returns summary metrics."""
    started = time.perf_counter()
    if cfg.real_footage:
        require_footage()  # a clear ConfigError before any output is touched
    for folder in (out, out / "videos", out / "truth"):
        files.ensure_dir(folder)
        files.remove_partials(folder)
    ids = [video_id(i) for i in range(cfg.videos)]
    jobs: list[Job] = [(out, vid, derive_seed(cfg.seed, i), cfg) for i, vid in enumerate(ids)]
    workers = _workers(len(jobs))
    log.info("generating %d videos into %s with %d worker(s)", len(jobs), out, workers)
    done = track(_generate_all(jobs, workers), "corpus: videos", total=len(jobs))
    truths = sorted(done, key=lambda t: t.video_id)
    files.write_jsonl(out / MANIFEST, [manifest_entry(out, t).model_dump() for t in truths])
    _prune(out, set(ids))
    summary = {
        "videos": len(truths),
        "events": sum(len(t.events) for t in truths),
        "distractors": sum(len(t.distractors) for t in truths),
        "frames": sum(t.n_frames for t in truths),
        "duration_s": round(sum(t.duration_s for t in truths), 3),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log.info("corpus: %s", summary)
    return summary
