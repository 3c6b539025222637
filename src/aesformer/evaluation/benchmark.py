"""The benchmark of the two-stage system and its baselines on a release's test split.

Systems (rows of the table), each producing an output photo from the poor photo:

| system | plan | output |
|---|---|---|
| ``identity`` | – | the poor photo itself (edit distance 0: the floor every edit must beat) |
| ``editor_no_plan`` | empty prompt | the editor |
| ``generic_plan`` | :data:`GENERIC_PLAN` | the editor |
| ``gt_plan`` | the ground-truth plan | the editor (upper bound for the planner) |
| ``pipeline`` | the planner's plan | the editor (the candidate system) |

Per item and system: the metrics of :mod:`aesformer.evaluation.metrics` (aesthetics of the
output, identity and scene consistency against the poor photo, SSIM/PSNR against the
ground-truth good photo, edit distance; ``lpips`` against the ground-truth good photo, lower
is better, only when a perceptual metric is given: no key otherwise); for ``pipeline`` also
``plan_format_validity``
(the shared plan parser accepts it) and ``plan_alignment`` (the per-dimension agreement with
the ground-truth plan, the alignment reward's embedding judge). Means per system; ``identity``
undefined (no face) is left out of its mean and counted in ``identity_missing``.

The planner and the editor are anything with ``plan(image_path) -> str`` and
``edit(image_bgr, instruction) -> image_bgr`` (the registry's pyfunc models, through adapters).
An item whose images cannot be read is skipped with an error naming the file; the others go on.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from aesformer.errors import InputError
from aesformer.evaluation import metrics as m

log = logging.getLogger(__name__)

GENERIC_PLAN = "Improve the composition."
SYSTEMS = ("identity", "editor_no_plan", "generic_plan", "gt_plan", "pipeline")


class Planner(Protocol):
    def plan(self, image_path: Path) -> str: ...


class Editor(Protocol):
    def edit(self, image: np.ndarray, instruction: str) -> np.ndarray: ...


@dataclass(frozen=True)
class TestItem:
    pair_id: str
    poor: Path
    good: Path
    plan_text: str


def load_test_items(
    release_dir: Path, split: str = "test", limit: int | None = None
) -> list[TestItem]:
    """The ``split`` rows of ``release_dir/manifest.parquet`` (paths made absolute)."""
    import pandas as pd

    manifest = Path(release_dir) / "manifest.parquet"
    if not manifest.is_file():
        raise InputError(f"{manifest}: not found (not a release folder)")
    frame = pd.read_parquet(manifest)
    missing = {"pair_id", "split", "poor_image", "good_image", "plan_text"} - set(frame.columns)
    if missing:
        raise InputError(f"{manifest}: lacks columns {sorted(missing)}")
    rows = frame[frame["split"] == split].sort_values("pair_id")
    items = [
        TestItem(
            r.pair_id,
            Path(release_dir) / r.poor_image,
            Path(release_dir) / r.good_image,
            r.plan_text,
        )
        for r in rows.itertuples()
    ]
    if not items:
        raise InputError(f"{manifest}: no {split!r} pairs")
    return items[:limit] if limit else items


def read_bgr(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image")
    return image


def plan_scores(text: str, reference: str, judge: Any) -> dict[str, float]:
    """``plan_format_validity`` (0/1), ``plan_alignment`` (0..1) of a generated plan and its
    per-dimension parts ``plan_alignment_<dimension>``."""
    from aesformer.plans import parse

    valid = parse(text).plan is not None
    per_dim = judge.per_dimension(text, reference)
    return {
        "plan_format_validity": 1.0 if valid else 0.0,
        "plan_alignment": float(np.mean(list(per_dim.values()))),
        **{f"plan_alignment_{k}": float(v) for k, v in per_dim.items()},
    }


class Perceptual(Protocol):
    """A full-reference perceptual distance, e.g. :class:`~.perceptual.LPIPS`."""

    def distance(self, output: np.ndarray, target: np.ndarray) -> float: ...


def image_scores(
    poor: np.ndarray,
    good: np.ndarray,
    output: np.ndarray,
    scorer: Any,
    detector: Any,
    perceptual: Perceptual | None = None,
) -> dict[str, float | None]:
    """The image metrics of one output; ``lpips`` (vs the good photo) only with ``perceptual``."""
    aesthetic = m.aesthetic_scores(output, scorer)
    scene = m.scene_consistency(poor, output)
    scores: dict[str, float | None] = {
        "aesthetic": aesthetic["aesthetic"],
        "aesthetic_level": aesthetic.get("aesthetic_level", math.nan),
        "identity": m.identity_similarity(poor, output, detector),
        "scene_inliers": scene["inliers"],
        "scene_global": scene["global"],
        **m.similarity(output, good),
        "edit_distance": m.edit_distance(poor, output),
    }
    if perceptual is not None:
        scores["lpips"] = perceptual.distance(output, good)
    return scores


def instruction_for(system: str, item: TestItem, planned: str | None) -> str | None:
    return {
        "identity": None,
        "editor_no_plan": "",
        "generic_plan": GENERIC_PLAN,
        "gt_plan": item.plan_text,
        "pipeline": planned,
    }[system]


def run_benchmark(
    items: Sequence[TestItem],
    planner: Planner | None,
    editor: Editor | None,
    *,
    systems: Iterable[str] = SYSTEMS,
    judge: Any = None,
    scorer: Any = None,
    perceptual: Perceptual | None = None,
    on_output: Callable[[str, TestItem, np.ndarray, str | None], None] | None = None,
) -> dict[str, Any]:
    """Score ``systems`` on ``items``; returns ``{"systems": {name: means}, "items": rows,
    "errors": [...]}``. Systems other than ``identity`` need the editor, ``pipeline`` the
    planner too. ``perceptual`` (LPIPS) adds ``lpips``. ``on_output(system, item, image, plan)``
    sees every output (grids, files)."""
    from aesformer.faces import FaceCascadeDetector

    systems = list(systems)
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        raise ValueError(f"unknown systems {sorted(unknown)}; known: {list(SYSTEMS)}")
    if editor is None and set(systems) - {"identity"}:
        raise ValueError("an editor is needed for every system but identity")
    if planner is None and "pipeline" in systems:
        raise ValueError("the pipeline system needs a planner")
    if judge is None and "pipeline" in systems:
        from aesformer.rewards.embedding import EmbeddingJudge

        judge = EmbeddingJudge()
    detector = FaceCascadeDetector()
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for item in items:
        try:
            poor, good = read_bgr(item.poor), read_bgr(item.good)
        except InputError as exc:
            errors.append(str(exc))
            log.error("eval: %s (item skipped)", exc)
            continue
        planned = planner.plan(item.poor) if "pipeline" in systems and planner else None
        for system in systems:
            instruction = instruction_for(system, item, planned)
            output = poor if instruction is None else editor.edit(poor, instruction)  # type: ignore[union-attr]
            row: dict[str, Any] = {"pair_id": item.pair_id, "system": system}
            row.update(image_scores(poor, good, output, scorer, detector, perceptual))
            if system == "pipeline":
                row.update(plan_scores(planned or "", item.plan_text, judge))
                row["plan"] = planned
            rows.append(row)
            if on_output is not None:
                on_output(system, item, output, instruction)
    return {"systems": summarise(rows, systems), "items": rows, "errors": errors}


def summarise(
    rows: Sequence[Mapping[str, Any]], systems: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Mean of every numeric metric per system; ``None`` values are left out and counted as
    ``<metric>_missing``."""
    out: dict[str, dict[str, float]] = {}
    for system in systems:
        mine = [r for r in rows if r["system"] == system]
        keys = sorted({k for r in mine for k in r if k not in ("pair_id", "system", "plan")})
        means: dict[str, float] = {"items": float(len(mine))}
        for key in keys:
            values = [r.get(key) for r in mine]
            numbers = [float(v) for v in values if isinstance(v, int | float) and not math.isnan(v)]
            if len(numbers) < len(values):
                means[f"{key}_missing"] = float(len(values) - len(numbers))
            if numbers:
                means[key] = float(np.mean(numbers))
        out[system] = means
    return out


def table_markdown(systems: Mapping[str, Mapping[str, float]], keys: Sequence[str]) -> str:
    """The comparison table: one row per system, one column per metric key."""
    lines = ["| system | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, means in systems.items():
        cells = [f"{means[k]:.4g}" if k in means else "–" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
