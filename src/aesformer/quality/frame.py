"""The table the gate validates: one row per line of a split folder's ``pairs.jsonl``.

Lines are read as raw JSON (not through :class:`PairRecord`), so a missing field, an unknown
field or a wrong type reaches Great Expectations as a null, an extra column or a bad value and
is named there, instead of stopping the read. Columns:

- every top-level field of the records (``PairRecord``'s fields, plus any unknown key found),
  values as read (object dtype; dicts stay dicts);
- ``line`` (1-based line number), ``record_valid`` (the line validates as a ``PairRecord``);
- per image role ``poor`` / ``good``: ``<role>_image_exists``, ``<role>_image_decodes``,
  ``<role>_width``, ``<role>_height`` (0 when not decoded), ``<role>_phash`` (16 hex digits,
  empty when not decoded);
- ``near_duplicate_across_splits``: an image of the pair is within ``gate.hash_distance`` bits
  of an image of a pair in another split;
- ``splits_of_video`` (distinct splits of the pair's video), ``pairs_in_split``,
  ``videos_in_split`` (size of the pair's split);
- ``plan_format_ok`` (``aesformer.plans.format_ok(plan_text)``), ``plan_matches_text`` (the
  ``plan`` dict equals the parsed text, keys in plan order);
- one column per ``gate.score_ranges`` key, dots replaced by ``_`` (``scores_aesthetic``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from aesformer.config import GateConfig
from aesformer.fileio import UnreadableImage, inside, read_bgr
from aesformer.plans import format_ok, plan_problem
from aesformer.quality.phash import near_duplicates_across, phash
from aesformer.records import PairRecord

#: The record fields, in schema order (the columns the schema expectation demands).
RECORD_COLUMNS: tuple[str, ...] = tuple(PairRecord.model_fields)
IMAGE_ROLES: tuple[str, ...] = ("poor", "good")
BOOL_COLUMNS = frozenset(
    {"record_valid", "near_duplicate_across_splits", "plan_format_ok", "plan_matches_text"}
)
INT_COLUMNS = frozenset({"line", "splits_of_video", "pairs_in_split", "videos_in_split"})


def score_column(key: str) -> str:
    """Column name of a ``gate.score_ranges`` key: ``scores.aesthetic`` -> ``scores_aesthetic``."""
    return key.replace(".", "_")


def derived_columns(cfg: GateConfig) -> tuple[str, ...]:
    """The computed columns, in table order."""
    images = tuple(
        f"{role}_{what}"
        for role in IMAGE_ROLES
        for what in ("image_exists", "image_decodes", "width", "height", "phash")
    )
    return (
        "line",
        "record_valid",
        *images,
        "near_duplicate_across_splits",
        "splits_of_video",
        "pairs_in_split",
        "videos_in_split",
        "plan_format_ok",
        "plan_matches_text",
        *(score_column(k) for k in cfg.score_ranges),
    )


def read_lines(pairs_file: Path) -> list[tuple[int, dict[str, Any] | None]]:
    """``(line number, object)`` per non-blank line; ``None`` for a line that is not a JSON
    object. A missing file gives no lines (an empty candidate)."""
    if not pairs_file.is_file():
        return []
    out: list[tuple[int, dict[str, Any] | None]] = []
    with pairs_file.open(encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = None
            out.append((number, value if isinstance(value, dict) else None))
    return out


def build_frame(split_dir: Path, cfg: GateConfig) -> pd.DataFrame:
    """The gate's table of ``split_dir/pairs.jsonl`` (see the module docstring)."""
    lines = read_lines(split_dir / "pairs.jsonl")
    extra = sorted({k for _, obj in lines if obj for k in obj} - set(RECORD_COLUMNS))
    raw_columns = (*RECORD_COLUMNS, *extra)
    rows: list[dict[str, Any]] = []
    hashes: dict[str, list[int | None]] = {role: [] for role in IMAGE_ROLES}
    for number, obj in lines:
        obj = obj or {}
        row: dict[str, Any] = {name: obj.get(name) for name in raw_columns}
        row["line"] = number
        row["record_valid"] = _valid(obj)
        for role in IMAGE_ROLES:
            probe = _probe_image(split_dir, obj.get(f"{role}_image"))
            hashes[role].append(probe.pop("hash"))
            row.update({f"{role}_{k}": v for k, v in probe.items()})
        row["plan_format_ok"] = isinstance(obj.get("plan_text"), str) and format_ok(
            obj["plan_text"]
        )
        row["plan_matches_text"] = _plan_matches_text(obj.get("plan"), obj.get("plan_text"))
        for key in cfg.score_ranges:
            group, _, name = key.partition(".")
            section = obj.get(group)
            value = section.get(name) if isinstance(section, dict) else None
            row[score_column(key)] = value if isinstance(value, int | float) else None
        rows.append(row)

    splits = [_text(row["split"]) for row in rows]
    videos = [_text(row["video_id"]) for row in rows]
    # poor and good images together: a poor image of one split may be a good one of another
    near = near_duplicates_across(
        hashes["poor"] + hashes["good"], splits + splits, cfg.hash_distance
    )
    n = len(rows)
    splits_of: dict[str, set[str | None]] = defaultdict(set)
    pairs_in: dict[str | None, int] = defaultdict(int)
    videos_in: dict[str | None, set[str]] = defaultdict(set)
    for split, video in zip(splits, videos, strict=True):
        if video is not None:
            splits_of[video].add(split)
            videos_in[split].add(video)
        pairs_in[split] += 1
    for i, row in enumerate(rows):
        row["near_duplicate_across_splits"] = bool(near[i] or near[n + i])
        row["splits_of_video"] = len(splits_of[videos[i]]) if videos[i] is not None else 1
        row["pairs_in_split"] = pairs_in[splits[i]] if splits[i] is not None else 0
        row["videos_in_split"] = len(videos_in[splits[i]]) if splits[i] is not None else 0

    columns = [*raw_columns, *derived_columns(cfg)]
    # object dtype from the start: no inference, so a null never turns a column of ints
    # into floats (which would fail the type checks of every row)
    frame = pd.DataFrame(
        {c: pd.Series([row[c] for row in rows], dtype=object) for c in columns}, columns=columns
    )
    for column in derived_columns(cfg):
        frame[column] = _typed(frame[column], column)
    return frame


def _typed(series: pd.Series, column: str) -> pd.Series:
    """Derived columns get plain dtypes (bool / int); the rest stays object (nulls allowed)."""
    if column in BOOL_COLUMNS or column.endswith(("_image_exists", "_image_decodes")):
        return series.astype(bool)
    if column in INT_COLUMNS or column.endswith(("_width", "_height")):
        return series.astype("int64")
    return series.astype(object)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _valid(obj: dict[str, Any]) -> bool:
    if not obj:
        return False
    try:
        PairRecord.model_validate(obj)
    except ValidationError:
        return False
    return True


def _probe_image(root: Path, relative: object) -> dict[str, Any]:
    """``image_exists``, ``image_decodes``, ``width``, ``height``, ``phash`` (hex) and ``hash``."""
    out: dict[str, Any] = {
        "image_exists": False,
        "image_decodes": False,
        "width": 0,
        "height": 0,
        "phash": "",
        "hash": None,
    }
    if not isinstance(relative, str) or not relative:
        return out
    try:
        path = inside(root, relative)
    except UnreadableImage:
        return out
    out["image_exists"] = path.is_file()
    if not out["image_exists"]:
        return out
    try:
        image = read_bgr(path)
    except UnreadableImage:
        return out
    value = phash(image)
    out.update(
        image_decodes=True,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        phash=f"{value:016x}",
        hash=value,
    )
    return out


def _plan_matches_text(plan: object, text: object) -> bool:
    if not isinstance(plan, dict) or not isinstance(text, str):
        return False
    return plan_problem(plan, text) is None


__all__ = ["IMAGE_ROLES", "RECORD_COLUMNS", "build_frame", "derived_columns", "score_column"]
