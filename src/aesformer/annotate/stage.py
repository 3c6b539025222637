"""The ``annotate`` stage: a validated seven-dimension action plan for every aligned pair.

Input ``pairs_dir`` (written by ``align``): ``pairs.jsonl`` (:class:`PairRecord` with
``alignment.homography``, image paths relative to the folder) and, if present,
``rejects.jsonl``. Output ``out``:

- ``pairs.jsonl`` — the annotated pairs, as read plus ``plan``, ``plan_text``, ``teacher``,
  ``teacher_version``;
- ``rejects.jsonl`` — the upstream rejects, then one ``stage="annotate"`` record per dropped
  pair or bad input line;
- ``report.json`` — the summary returned by :func:`run` plus the params used;
- the images of the annotated pairs at the same relative paths (hard links where possible).

Per pair: read both images, measure the changes (:mod:`.measure`), ask the teacher for a plan,
validate it (:mod:`.rules`); a failed plan is regenerated with the validator's feedback up to
``max_retries`` times, then the pair is rejected. A bad line or a broken image rejects that
pair only. Images are placed first and the JSON files written last, each atomically.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np

from aesformer.annotate.geometric import GeometricTeacher
from aesformer.annotate.measure import Measurements, measure_pair
from aesformer.annotate.rules import expectations, validate
from aesformer.annotate.subject import FaceOrSaliencyLocator, SubjectLocator
from aesformer.annotate.teacher import PlanRequest, Teacher, TeacherError
from aesformer.config import AnnotateConfig
from aesformer.errors import AesformerError, OutputError
from aesformer.fileio import UnreadableImage, inside, place_files, read_bgr
from aesformer.plans import render
from aesformer.progress import track
from aesformer.records import (
    PairRecord,
    RejectRecord,
    atomic_write_text,
    read_jsonl,
    read_jsonl_lenient,
    write_jsonl,
)

log = logging.getLogger("aesformer.annotate")
STAGE = "annotate"


class Reason(StrEnum):
    """Reason codes of the rejects this stage writes (``RejectRecord.reason``)."""

    BAD_RECORD = "bad_record"  # a pairs.jsonl line that is not valid JSON / a PairRecord
    IMAGE_UNREADABLE = "image_unreadable"  # missing, corrupt or outside the pairs folder
    NOT_ALIGNED = "not_aligned"  # no alignment.homography (the pair did not come from align)
    MEASURE_FAILED = "measure_failed"  # degenerate homography / no overlap
    TEACHER_ERROR = "teacher_error"  # the teacher produced no text (endpoint kept failing)
    BAD_FORMAT = "bad_format"  # the last attempt did not parse
    INCONSISTENT_PLAN = "inconsistent_plan"  # the last attempt contradicted the measurements


class TeacherUnavailable(AesformerError):
    """Every pair that reached the teacher failed with ``teacher_error``."""


def make_teacher(cfg: AnnotateConfig) -> Teacher:
    """The teacher named by ``cfg.teacher``."""
    if cfg.teacher == "openai":
        from aesformer.annotate.openai_teacher import OpenAITeacher

        return OpenAITeacher(cfg.openai)
    return GeometricTeacher(cfg.exposure_tolerance)


def run(
    cfg: AnnotateConfig,
    pairs_dir: Path,
    out: Path,
    teacher: Teacher | None = None,
    locator: SubjectLocator | None = None,
) -> dict[str, float | str]:
    """Run the stage; returns ``pairs_in``, ``pairs_out``, ``rejected``, ``rejected_<reason>``,
    ``upstream_rejects``, ``attempts``, ``regenerated``, ``teacher``, ``teacher_version`` and
    ``seconds``. Raises :class:`TeacherUnavailable` when the teacher failed on every pair it
    was asked about (so an orchestrator retries the stage)."""
    start = time.perf_counter()
    pairs_dir, out = Path(pairs_dir), Path(out)
    if pairs_dir.resolve() == out.resolve():
        raise OutputError(f"{out}: the output folder must differ from the input folder")
    pairs_file = pairs_dir / "pairs.jsonl"
    lines = list(read_jsonl_lenient(pairs_file, PairRecord))
    upstream_file = pairs_dir / "rejects.jsonl"
    upstream = list(read_jsonl(upstream_file, RejectRecord)) if upstream_file.is_file() else []
    teacher = teacher or make_teacher(cfg)
    locator = locator or FaceOrSaliencyLocator(min_size=cfg.face_min_size)

    kept: list[PairRecord] = []
    rejects: list[RejectRecord] = []
    attempts: Counter[int] = Counter()
    asked = 0
    try:
        for number, item in track(lines, description="annotate"):
            if isinstance(item, str):
                rejects.append(RejectRecord.bad_line(STAGE, pairs_file, number, item))
                continue
            prepared = _prepare(item, pairs_dir, cfg, locator)
            if isinstance(prepared, RejectRecord):
                rejects.append(prepared)
                continue
            asked += 1
            result, n = _annotate(item, prepared, cfg, teacher)
            attempts[n] += 1
            if isinstance(result, RejectRecord):
                rejects.append(result)
                continue
            place_files(
                result.image_files(),
                pairs_dir,
                out,
                cfg.link_images,
            )
            kept.append(result)
    finally:
        close = getattr(teacher, "close", None)
        if callable(close):
            close()

    counts = Counter(r.reason for r in rejects)
    if asked and counts[Reason.TEACHER_ERROR.value] == asked:
        raise TeacherUnavailable(
            f"annotate: teacher {teacher.name!r} failed on all {asked} pairs"
            f" ({next(r.detail for r in rejects if r.reason == Reason.TEACHER_ERROR.value)})"
        )
    summary: dict[str, float | str] = {
        "pairs_in": len(lines),
        "pairs_out": len(kept),
        "rejected": len(rejects),
        **{f"rejected_{reason.value}": counts.get(reason.value, 0) for reason in Reason},
        "upstream_rejects": len(upstream),
        "attempts": sum(n * c for n, c in attempts.items()),
        "regenerated": sum(c for n, c in attempts.items() if n > 1),
        "teacher": teacher.name,
        "teacher_version": teacher.version,
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_jsonl(out / "pairs.jsonl", kept)
    write_jsonl(out / "rejects.jsonl", [*upstream, *rejects])
    report = {**summary, "params": cfg.model_dump(mode="json")}
    atomic_write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    log.info("annotate: %d of %d pairs annotated (%s)", len(kept), len(lines), dict(counts))
    return summary


class _Prepared:
    """A pair's images and measurements, ready for the teacher."""

    def __init__(self, poor: np.ndarray, good: np.ndarray, measurements: Measurements) -> None:
        self.poor, self.good, self.measurements = poor, good, measurements


def _prepare(
    pair: PairRecord, pairs_dir: Path, cfg: AnnotateConfig, locator: SubjectLocator
) -> _Prepared | RejectRecord:
    """Read the pair's images and measure its changes, or its reject record."""
    try:
        poor = read_bgr(inside(pairs_dir, pair.poor_image))
        good = read_bgr(inside(pairs_dir, pair.good_image))
    except UnreadableImage as exc:
        return _reject(pair, Reason.IMAGE_UNREADABLE, str(exc))
    if pair.alignment is None or pair.alignment.homography is None:
        return _reject(pair, Reason.NOT_ALIGNED, "no alignment.homography (run align first)")
    try:
        m = measure_pair(poor, good, pair.alignment.homography, pair.narration, cfg, locator)
    except (ValueError, np.linalg.LinAlgError, cv2.error) as exc:
        return _reject(pair, Reason.MEASURE_FAILED, str(exc).strip().splitlines()[-1][:300])
    return _Prepared(poor, good, m)


def _annotate(
    pair: PairRecord, prepared: _Prepared, cfg: AnnotateConfig, teacher: Teacher
) -> tuple[PairRecord | RejectRecord, int]:
    """Ask, validate, regenerate; the annotated pair (or reject) and the attempts used."""
    expected = expectations(prepared.measurements, cfg)
    feedback: str | None = None
    verdict = None
    for attempt in range(1, cfg.max_retries + 2):
        request = PlanRequest(
            pair,
            prepared.poor,
            prepared.good,
            pair.narration,
            prepared.measurements,
            expected,
            feedback,
        )
        try:
            text = teacher.write_plan(request)
        except TeacherError as exc:
            return _reject(pair, Reason.TEACHER_ERROR, str(exc)), attempt
        verdict = validate(text, expected)
        if verdict.ok and verdict.plan is not None:
            annotated = pair.model_copy(
                update={
                    "plan": verdict.plan.to_dict(),
                    "plan_text": render(verdict.plan),
                    "teacher": teacher.name,
                    "teacher_version": teacher.version,
                }
            )
            return annotated, attempt
        feedback = verdict.describe()
        log.info("annotate: %s attempt %d rejected: %s", pair.pair_id, attempt, feedback)
    assert verdict is not None
    detail = (
        f"after {cfg.max_retries + 1} attempts: {verdict.describe()}"
        f" | measured: {json.dumps(prepared.measurements.as_dict(), sort_keys=True)}"
    )
    return _reject(pair, Reason(verdict.reason), detail), cfg.max_retries + 1


def _reject(pair: PairRecord, reason: Reason, detail: str) -> RejectRecord:
    return RejectRecord(
        stage=STAGE,
        reason=reason.value,
        video_id=pair.video_id,
        source=pair.good_image,
        event_index=pair.event_index,
        time_s=pair.good_time_s,
        pair_id=pair.pair_id,
        detail=detail,
    )


__all__ = ["STAGE", "Reason", "TeacherUnavailable", "make_teacher", "run"]
