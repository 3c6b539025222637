"""The ``mine`` stage: resolve inputs, mine new videos in parallel, merge, write outputs.

Outputs under ``out``: ``pairs.jsonl``, ``rejects.jsonl``, ``report.json``, ``images/`` and
``cache/<key>/<sha256>.json``, where ``key`` fingerprints the mining params and code
(:func:`aesformer.mining.video.cache_key`). A video with an entry under the current key is not
mined again; the outputs are rebuilt from *all* entries under that key (so adding videos, or a
run over fewer videos, never loses or rewrites what was mined). Entries of other keys stay
on disk untouched (switching params back reuses them); delete ``out/cache`` to reclaim space.

Videos are mined by :func:`aesformer.fanout.fan_out`: a local process pool, or one Prefect
task per video on the configured task runner (thread, process, Dask, Ray).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from aesformer.config import MineConfig, OrchestrationConfig
from aesformer.errors import InputError
from aesformer.fanout import fan_out
from aesformer.fileio import sha256_file
from aesformer.mining.inputs import VideoInput, resolve
from aesformer.mining.video import STAGE, VideoResult, cache_key, cache_path, mine_video
from aesformer.records import RejectRecord, atomic_write_text, write_jsonl

log = logging.getLogger(__name__)


def run(
    cfg: MineConfig,
    videos: Path,
    out: Path,
    workers: int | None = None,
    orchestration: OrchestrationConfig | None = None,
) -> dict[str, Any]:
    """Mine ``videos`` (folder or manifest) into ``out``; returns the summary numbers.

    ``cfg.runner`` picks the fan-out (see :mod:`aesformer.fanout`); ``orchestration`` gives
    the Prefect task runner and retries when it is ``prefect``.

    Raises :class:`InputError` when ``videos`` is missing or when every video failed.
    """
    start = time.perf_counter()
    if not videos.exists():
        raise InputError(f"{videos}: not found")
    out.mkdir(parents=True, exist_ok=True)
    inputs = resolve(videos, out / "downloads")
    rejects: list[RejectRecord] = []
    todo: list[VideoInput] = []
    cached: list[str] = []
    seen: dict[str, str] = {}
    key = cache_key(cfg)
    for item in inputs:
        if item.reason is not None or item.path is None:
            rejects.append(_input_reject(item, item.reason or "unreadable", item.detail))
            continue
        sha = sha256_file(item.path)
        if item.sha256 and item.sha256 != sha:
            rejects.append(_input_reject(item, "sha256_mismatch", f"manifest {item.sha256}"))
            continue
        if sha in seen:
            rejects.append(_input_reject(item, "duplicate_video", f"same bytes as {seen[sha]}"))
            continue
        seen[sha] = item.video_id
        if cache_path(out, sha, key).is_file():
            cached.append(sha)
        else:
            todo.append(VideoInput(item.video_id, item.source, item.path, sha))
    fresh = fan_out(
        mine_video,
        [(cfg, v.path, v.video_id, v.sha256, out, key) for v in todo],
        name="mine",
        runner=cfg.runner,
        workers=workers or cfg.workers,
        orchestration=orchestration,
        label=lambda job: f"mine {job[2]}",
    )
    results = _load_cache(out, key)
    pairs = [p for r in results for p in r.pairs]
    failed = [r for r in fresh if r.failed]
    all_rejects = (
        rejects + [x for r in results for x in r.rejects] + [x for r in failed for x in r.rejects]
    )
    write_jsonl(out / "pairs.jsonl", pairs)
    write_jsonl(out / "rejects.jsonl", all_rejects)
    seconds = time.perf_counter() - start
    steps: dict[str, float] = {}
    for r in fresh:
        for k, v in r.report.get("seconds", {}).items():
            steps[k] = steps.get(k, 0.0) + v
    summary: dict[str, Any] = {
        "videos": len(inputs),
        "videos_mined": len(fresh) - len(failed),
        "videos_cached": len(cached),
        "videos_failed": len(failed) + len(rejects),
        "cache_key": key,
        "candidates": sum(r.report.get("events", 0) for r in results),
        "pairs": len(pairs),
        "rejects": len(all_rejects),
        "seconds": round(seconds, 3),
        **{f"seconds_{k}": round(v, 3) for k, v in sorted(steps.items())},
    }
    report = {
        "summary": summary,
        "reasons": _count(x.reason for x in all_rejects),
        "videos": {r.video_id: {"sha256": r.sha256, **r.report} for r in results + failed},
        "failures": [
            x.model_dump(mode="json") for x in rejects + [x for r in failed for x in r.rejects]
        ],
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, sort_keys=True))
    usable = len(inputs) - len(rejects) - len(failed)
    if inputs and usable == 0:
        raise InputError(f"{videos}: every video failed (see {out / 'rejects.jsonl'})")
    if not inputs:
        raise InputError(f"{videos}: no videos found")
    return summary


def _load_cache(out: Path, key: str) -> list[VideoResult]:
    """Every successful cache entry under ``key``, ordered by video id."""
    results = []
    for path in sorted((out / "cache" / key).glob("*.json")):
        if path.name.startswith("."):  # an atomic write's temporary file (a killed run's)
            continue
        try:
            results.append(VideoResult.from_json(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
    return sorted(results, key=lambda r: (r.video_id, r.sha256))


def _input_reject(item: VideoInput, reason: str, detail: str) -> RejectRecord:
    return RejectRecord(
        stage=STAGE, reason=reason, video_id=item.video_id, source=item.source, detail=detail
    )


def _count(reasons: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in reasons:
        out[r] = out.get(r, 0) + 1
    return dict(sorted(out.items()))
