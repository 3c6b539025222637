"""The ``split`` stage: assign every annotated pair to train, val or test by its video.

Input ``pairs_dir`` (written by ``annotate``): ``pairs.jsonl`` (:class:`PairRecord` with
``plan`` / ``plan_text``, image paths relative to the folder) and, if present,
``rejects.jsonl``. Output ``out``:

- ``pairs.jsonl`` — the pairs, in input order, as read plus ``split``;
- ``rejects.jsonl`` — the upstream rejects, then one ``stage="split"`` record per dropped line;
- ``report.json`` — the summary returned by :func:`run`, per-split sizes and per-dimension
  statistics, the videos of each split and the params used;
- the images of the kept pairs at the same relative paths (hard links where possible).

All pairs of a video land in the same split (:mod:`aesformer.split.assign`). A pair whose plan
does not parse or disagrees with its ``plan_text`` is dropped here (``bad_plan``) so that the
other pairs still reach a release; image, plan-format and leakage checks over the whole folder
are the data-quality gate's (:mod:`aesformer.quality`), which runs on it before any release. Images are placed
first and the JSON files written last, each atomically.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from enum import StrEnum
from pathlib import Path
from typing import Any

from aesformer.config import SplitConfig
from aesformer.errors import OutputError
from aesformer.fileio import UnreadableImage, place_files
from aesformer.plans import DIMENSION_KEYS, NO_CHANGE, parse, plan_problem
from aesformer.records import (
    PairRecord,
    RejectRecord,
    atomic_write_text,
    read_jsonl,
    read_jsonl_lenient,
    write_jsonl,
)
from aesformer.split.assign import SPLITS, assign_videos

log = logging.getLogger("aesformer.split")
STAGE = "split"


class Reason(StrEnum):
    """Reason codes of the rejects this stage writes (``RejectRecord.reason``)."""

    BAD_RECORD = "bad_record"  # a pairs.jsonl line that is not valid JSON / a PairRecord
    NO_PLAN = "no_plan"  # plan or plan_text missing (the pair did not come from annotate)
    BAD_IMAGE_PATH = "bad_image_path"  # an image path outside the pairs folder
    BAD_PLAN = "bad_plan"  # plan_text does not parse, or plan is not that plan in plan order


def run(cfg: SplitConfig, pairs_dir: Path, out: Path) -> dict[str, float]:
    """Run the stage; returns ``pairs_in``, ``pairs_out``, ``rejected``, ``rejected_<reason>``,
    ``upstream_rejects``, ``videos``, ``pairs_<split>``, ``videos_<split>`` and ``seconds``."""
    start = time.perf_counter()
    pairs_dir, out = Path(pairs_dir), Path(out)
    if pairs_dir.resolve() == out.resolve():
        raise OutputError(f"{out}: the output folder must differ from the input folder")
    pairs_file = pairs_dir / "pairs.jsonl"
    upstream_file = pairs_dir / "rejects.jsonl"
    upstream = list(read_jsonl(upstream_file, RejectRecord)) if upstream_file.is_file() else []

    candidates: list[PairRecord] = []
    rejects: list[RejectRecord] = []
    for number, item in read_jsonl_lenient(pairs_file, PairRecord):
        if isinstance(item, str):
            rejects.append(_reject(None, Reason.BAD_RECORD, item, f"{pairs_file}:{number}"))
        elif item.plan is None or item.plan_text is None:
            rejects.append(_reject(item, Reason.NO_PLAN, "plan or plan_text is null"))
        elif problem := plan_problem(item.plan, item.plan_text):
            rejects.append(_reject(item, Reason.BAD_PLAN, problem))
        else:
            candidates.append(item)

    assignment = assign_videos((p.video_id for p in candidates), cfg.seed, cfg.ratios)
    kept: list[PairRecord] = []
    for pair in candidates:
        pair = pair.model_copy(update={"split": assignment[pair.video_id]})
        try:
            place_files(
                (pair.poor_image, pair.good_image, pair.poor_raw_image, pair.poor_mask_image),
                pairs_dir,
                out,
                cfg.link_images,
            )
        except UnreadableImage as exc:
            rejects.append(_reject(pair, Reason.BAD_IMAGE_PATH, str(exc)))
            continue
        kept.append(pair)

    stats = split_statistics(kept)
    counts = Counter(r.reason for r in rejects)
    summary: dict[str, float] = {
        "pairs_in": len(candidates) + len(rejects),
        "pairs_out": len(kept),
        "rejected": len(rejects),
        **{f"rejected_{reason.value}": counts.get(reason.value, 0) for reason in Reason},
        "upstream_rejects": len(upstream),
        "videos": len({p.video_id for p in kept}),
        **{f"pairs_{name}": stats[name]["pairs"] for name in SPLITS},
        **{f"videos_{name}": stats[name]["videos"] for name in SPLITS},
        "seconds": round(time.perf_counter() - start, 3),
    }
    videos_by_split: dict[str, list[str]] = defaultdict(list)
    for video_id, name in sorted(assignment.items()):
        videos_by_split[name].append(video_id)
    write_jsonl(out / "pairs.jsonl", kept)
    write_jsonl(out / "rejects.jsonl", [*upstream, *rejects])
    report = {
        **summary,
        "splits": stats,
        "videos_by_split": {name: videos_by_split.get(name, []) for name in SPLITS},
        "params": cfg.model_dump(mode="json"),
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    if summary["videos"] < len(SPLITS):
        log.warning("split: only %d videos: some split is empty", summary["videos"])
    log.info(
        "split: %d pairs -> %s",
        len(kept),
        ", ".join(f"{n} {stats[n]['pairs']} ({stats[n]['videos']} videos)" for n in SPLITS),
    )
    return summary


def split_statistics(pairs: list[PairRecord]) -> dict[str, dict[str, Any]]:
    """Per split: ``pairs``, ``videos`` and per plan dimension the counts ``changed``,
    ``no_change`` (the action is ``NO_CHANGE``), ``missing`` (no action in ``plan_text``) and
    ``changed_share`` (changed / pairs, 0 for an empty split)."""
    out: dict[str, dict[str, Any]] = {}
    for name in SPLITS:
        members = [p for p in pairs if p.split == name]
        dims: dict[str, dict[str, float]] = {
            key: {"changed": 0, "no_change": 0, "missing": 0} for key in DIMENSION_KEYS
        }
        for pair in members:
            actions = parse(pair.plan_text or "").actions
            for key in DIMENSION_KEYS:
                action = actions.get(key)
                bucket = "missing" if action is None else "no_change"
                if action is not None and action != NO_CHANGE:
                    bucket = "changed"
                dims[key][bucket] += 1
        for counts in dims.values():
            counts["changed_share"] = round(counts["changed"] / len(members), 4) if members else 0.0
        out[name] = {
            "pairs": len(members),
            "videos": len({p.video_id for p in members}),
            "dimensions": dims,
        }
    return out


def _reject(
    pair: PairRecord | None, reason: Reason, detail: str, source: str | None = None
) -> RejectRecord:
    if pair is None:
        return RejectRecord(stage=STAGE, reason=reason.value, source=source, detail=detail)
    return RejectRecord(
        stage=STAGE,
        reason=reason.value,
        video_id=pair.video_id,
        source=source or pair.good_image,
        event_index=pair.event_index,
        time_s=pair.good_time_s,
        pair_id=pair.pair_id,
        detail=detail,
    )


__all__ = ["STAGE", "Reason", "run", "split_statistics"]
