"""The gate's Great Expectations suite, built from :class:`GateConfig` (one place, documented in
``docs/datasets.md``). Every expectation carries ``meta.check`` (what it guards, as named in
the failure summary) and ``meta.threshold`` (the params key that sets it, if any).

Import this module only where the gate runs: importing Great Expectations takes seconds.
"""

from __future__ import annotations

import os
from typing import Any

from aesformer.config import GateConfig
from aesformer.quality.frame import IMAGE_ROLES, RECORD_COLUMNS, derived_columns, score_column

os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before great_expectations is imported

import great_expectations as gx  # noqa: E402
import great_expectations.expectations as gxe  # noqa: E402

SPLIT_NAMES = ["train", "val", "test"]
#: Fields every pair of a split folder must have set (the optional images and
#: ``teacher_version`` may be null).
REQUIRED_FIELDS: tuple[str, ...] = (
    "schema_version",
    "pair_id",
    "video_id",
    "video_sha256",
    "event_index",
    "poor_time_s",
    "good_time_s",
    "poor_image",
    "good_image",
    "alignment",
    "plan",
    "plan_text",
    "teacher",
    "split",
)
#: Python types of the typed fields (checked value by value; nulls are the not-null checks').
FIELD_TYPES: dict[str, list[str]] = {
    "schema_version": ["int"],
    "pair_id": ["str"],
    "video_id": ["str"],
    "video_sha256": ["str"],
    "event_index": ["int"],
    "poor_time_s": ["int", "float"],
    "good_time_s": ["int", "float"],
    "poor_image": ["str"],
    "good_image": ["str"],
    "narration": ["str"],
    "scores": ["dict"],
    "checks": ["dict"],
    "alignment": ["dict"],
    "plan": ["dict"],
    "plan_text": ["str"],
    "teacher": ["str"],
    "split": ["str"],
}


def _meta(check: str, threshold: str | None = None) -> dict[str, Any]:
    return {"check": check, "threshold": threshold} if threshold else {"check": check}


def expectations(cfg: GateConfig) -> list[gxe.Expectation]:
    """The gate's expectations, in the order of ``docs/datasets.md``."""
    out: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*RECORD_COLUMNS, *derived_columns(cfg)],
            exact_match=True,
            meta=_meta("schema: exactly the PairRecord fields (no unknown, none missing)"),
        ),
        gxe.ExpectTableRowCountToBeBetween(
            min_value=cfg.min_pairs_total, meta=_meta("enough pairs", "gate.min_pairs_total")
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="record_valid",
            value_set=[True],
            meta=_meta("every line validates as a PairRecord"),
        ),
    ]
    out += [
        gxe.ExpectColumnValuesToBeInTypeList(
            column=column, type_list=types, meta=_meta(f"type of {column}")
        )
        for column, types in FIELD_TYPES.items()
    ]
    out += [
        gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(f"{column} is set"))
        for column in REQUIRED_FIELDS
        if cfg.require_alignment or column != "alignment"
    ]
    out += [
        gxe.ExpectColumnValuesToBeUnique(column="pair_id", meta=_meta("unique pair ids")),
        gxe.ExpectColumnValuesToBeInSet(
            column="split", value_set=SPLIT_NAMES, meta=_meta("split is train, val or test")
        ),
    ]
    for role in IMAGE_ROLES:
        out += [
            gxe.ExpectColumnValuesToBeInSet(
                column=f"{role}_image_exists",
                value_set=[True],
                meta=_meta(f"{role} image file exists"),
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column=f"{role}_image_decodes",
                value_set=[True],
                meta=_meta(f"{role} image decodes"),
            ),
        ]
        out += [
            gxe.ExpectColumnValuesToBeBetween(
                column=f"{role}_{side}",
                min_value=cfg.min_image_side,
                max_value=cfg.max_image_side,
                meta=_meta(f"{role} image {side}", "gate.min_image_side, gate.max_image_side"),
            )
            for side in ("width", "height")
        ]
    out += [
        gxe.ExpectColumnValuesToBeBetween(
            column="splits_of_video",
            min_value=1,
            max_value=1,
            meta=_meta("no video leakage: each video in one split"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="near_duplicate_across_splits",
            value_set=[False],
            meta=_meta("no near-duplicate image across splits", "gate.hash_distance"),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="plan_format_ok",
            value_set=[True],
            mostly=cfg.min_plan_format_share,
            meta=_meta(
                "plan_text format (aesformer.plans.format_ok)", "gate.min_plan_format_share"
            ),
        ),
        gxe.ExpectColumnValuesToBeInSet(
            column="plan_matches_text",
            value_set=[True],
            meta=_meta("plan equals the parsed plan_text, in plan order"),
        ),
        gxe.ExpectColumnDistinctValuesToContainSet(
            column="split",
            value_set=list(cfg.required_splits),
            meta=_meta("no empty split", "gate.required_splits"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="pairs_in_split",
            min_value=cfg.min_pairs_per_split,
            meta=_meta("pairs per split", "gate.min_pairs_per_split"),
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="videos_in_split",
            min_value=cfg.min_videos_per_split,
            meta=_meta("videos per split", "gate.min_videos_per_split"),
        ),
    ]
    for key, (lo, hi) in cfg.score_ranges.items():
        column = score_column(key)
        out += [
            gxe.ExpectColumnValuesToNotBeNull(column=column, meta=_meta(f"{key} is set")),
            gxe.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=lo,
                max_value=hi,
                meta=_meta(f"{key} in range", f"gate.score_ranges.{key}"),
            ),
        ]
    return out


def build_suite(cfg: GateConfig, name: str = "pairs_gate") -> gx.ExpectationSuite:
    """An :class:`~great_expectations.ExpectationSuite` holding :func:`expectations`."""
    return gx.ExpectationSuite(name=name, expectations=expectations(cfg))


__all__ = ["FIELD_TYPES", "REQUIRED_FIELDS", "SPLIT_NAMES", "build_suite", "expectations"]
