"""The ``align`` stage: check every mined pair, keep the aligned ones in a self-contained folder.

Input ``pairs_dir`` (written by ``mine``): ``pairs.jsonl`` (:class:`PairRecord`, image paths
relative to the folder) and, if present, ``rejects.jsonl``. Output ``out``:

- ``pairs.jsonl`` — the pairs that passed, unchanged except for ``alignment``;
- ``rejects.jsonl`` — the upstream rejects, then one ``stage="align"`` record per failed pair
  (a ``pairs.jsonl`` line that is not UTF-8 JSON of a :class:`PairRecord` is a ``bad_record``
  reject naming ``file:line``; the other lines go on);
- ``report.json`` — the summary returned by :func:`run` plus the thresholds used;
- the images of the passed pairs at the same relative paths (hard links where possible).

Images are placed first and the JSON files written last, each atomically, so a ``pairs.jsonl``
in ``out`` always refers to images that are there.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path

from aesformer.align.check import Reason, align_pair
from aesformer.align.images import UnreadableImage, read_bgr
from aesformer.align.person import PersonDetector
from aesformer.config import AlignConfig
from aesformer.errors import OutputError
from aesformer.faces import FaceCascadeDetector
from aesformer.fileio import inside, place_files, read_gray
from aesformer.progress import track
from aesformer.records import (
    PairRecord,
    RejectRecord,
    atomic_write_text,
    read_jsonl,
    read_jsonl_lenient,
    write_jsonl,
)

log = logging.getLogger("aesformer.align")
STAGE = "align"


def run(
    cfg: AlignConfig, pairs_dir: Path, out: Path, detector: PersonDetector | None = None
) -> dict[str, float]:
    """Run the stage; returns ``pairs_in``, ``pairs_out``, ``rejected``, ``rejected_<reason>``,
    ``upstream_rejects`` and ``seconds``. ``detector`` defaults to :class:`FaceCascadeDetector`."""
    start = time.perf_counter()
    pairs_dir, out = Path(pairs_dir), Path(out)
    if pairs_dir.resolve() == out.resolve():
        raise OutputError(f"{out}: the output folder must differ from the input folder")
    pairs_file = pairs_dir / "pairs.jsonl"
    lines = list(read_jsonl_lenient(pairs_file, PairRecord))
    upstream = _upstream_rejects(pairs_dir / "rejects.jsonl")
    detector = detector or FaceCascadeDetector(min_size=cfg.face_min_size)

    kept: list[PairRecord] = []
    rejects: list[RejectRecord] = []
    for number, pair in track(lines, description="align"):
        if isinstance(pair, str):
            rejects.append(RejectRecord.bad_line(STAGE, pairs_file, number, pair))
            continue
        result = _check(pair, pairs_dir, cfg, detector)
        if isinstance(result, RejectRecord):
            rejects.append(result)
            continue
        _place_images(result, pairs_dir, out, cfg.link_images)
        kept.append(result)

    counts = Counter(r.reason for r in rejects)
    summary: dict[str, float] = {
        "pairs_in": len(lines),
        "pairs_out": len(kept),
        "rejected": len(rejects),
        **{f"rejected_{reason.value}": counts.get(reason.value, 0) for reason in Reason},
        "upstream_rejects": len(upstream),
        "seconds": round(time.perf_counter() - start, 3),
    }
    write_jsonl(out / "pairs.jsonl", kept)
    write_jsonl(out / "rejects.jsonl", [*upstream, *rejects])
    report = {**summary, "thresholds": cfg.model_dump(mode="json")}
    atomic_write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    log.info("align: %d of %d pairs kept (%s)", len(kept), len(lines), dict(counts))
    return summary


def _upstream_rejects(path: Path) -> list[RejectRecord]:
    return list(read_jsonl(path, RejectRecord)) if path.is_file() else []


def _check(
    pair: PairRecord, pairs_dir: Path, cfg: AlignConfig, detector: PersonDetector
) -> PairRecord | RejectRecord:
    """The pair with its ``alignment`` when it passes, else its reject record."""
    try:
        poor = read_bgr(inside(pairs_dir, pair.poor_image))
        good = read_bgr(inside(pairs_dir, pair.good_image))
    except UnreadableImage as exc:
        return _reject(pair, Reason.IMAGE_UNREADABLE.value, str(exc))
    unobserved = None
    if pair.poor_mask_image:
        try:
            unobserved = read_gray(inside(pairs_dir, pair.poor_mask_image))
        except UnreadableImage as exc:
            return _reject(pair, Reason.IMAGE_UNREADABLE.value, str(exc))
    alignment = align_pair(poor, good, cfg, detector, unobserved)
    if not alignment.passed:
        detail = (
            f"reasons={','.join(alignment.reasons)} inlier_ratio={alignment.scene_inlier_ratio:.3f}"
            f" similarity={alignment.global_similarity:.3f} new_objects={alignment.new_objects}"
            f" person_similarity={alignment.scores.get('person_similarity', float('nan')):.3f}"
        )
        return _reject(pair, alignment.reasons[0], detail)
    return pair.model_copy(update={"alignment": alignment})


def _reject(pair: PairRecord, reason: str, detail: str) -> RejectRecord:
    return RejectRecord(
        stage=STAGE,
        reason=reason,
        video_id=pair.video_id,
        source=pair.good_image,
        event_index=pair.event_index,
        time_s=pair.good_time_s,
        pair_id=pair.pair_id,
        detail=detail,
    )


def _place_images(pair: PairRecord, pairs_dir: Path, out: Path, link: bool) -> None:
    """Hard-link (or copy) the pair's images into ``out`` at the same relative paths."""
    place_files(pair.image_files(), pairs_dir, out, link)


__all__ = ["STAGE", "run"]
