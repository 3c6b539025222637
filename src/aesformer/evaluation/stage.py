"""Stage ``eval``: benchmark the candidate (AesThinker, AesEditor) pair — and the pair in
staging, on the same pairs — and write the report promotion reads.

``run_eval(cfg.eval, cfg.promote, release_dir, out, client, release_version)`` writes into
``out`` (``reports/eval/``):

- ``metrics.json`` — the eval report (docs/data-contracts.md#eval-report): ``release_version``,
  ``candidate`` / ``staging`` (versions + the pipeline system's means), ``systems`` (every
  system's means), ``errors``;
- ``table.md`` — the comparison table (one row per system, ``staging`` last; an ``lpips``
  column, lower is better, when ``eval.lpips_weights`` is set);
- ``plan_dimensions.json`` — per-dimension plan alignment of candidate and staging (DVC plots);
- ``grids/<pair_id>.png`` — poor | each system's output | good, for ``grid_items`` pairs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from aesformer.config import EvalConfig, PromoteConfig
from aesformer.evaluation.benchmark import (
    TestItem,
    load_test_items,
    read_bgr,
    run_benchmark,
    table_markdown,
)
from aesformer.evaluation.models import (
    PyfuncEditor,
    PyfuncPlanner,
    load_pyfunc,
    resolve_version,
)
from aesformer.evaluation.promotion import staging_versions
from aesformer.fileio import write_text
from aesformer.plans import DIMENSION_KEYS

log = logging.getLogger(__name__)


class GridCollector:
    """Keeps each system's output of the first ``limit`` pairs; writes one PNG per pair."""

    def __init__(self, limit: int, cell: int = 192) -> None:
        self.limit, self.cell = limit, cell
        self.outputs: dict[str, dict[str, np.ndarray]] = {}
        self.items: dict[str, TestItem] = {}

    def __call__(self, system: str, item: TestItem, image: np.ndarray, _plan: str | None) -> None:
        if item.pair_id not in self.items and len(self.items) >= self.limit:
            return
        self.items[item.pair_id] = item
        self.outputs.setdefault(item.pair_id, {})[system] = image

    def write(self, folder: Path) -> list[Path]:
        import cv2

        from aesformer.viz import fit

        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for pair_id, outputs in self.outputs.items():
            item = self.items[pair_id]
            cells = [read_bgr(item.poor), *outputs.values(), read_bgr(item.good)]
            labels = ["poor", *outputs.keys(), "good"]
            row = []
            for image, label in zip(cells, labels, strict=True):
                cell = fit(image, self.cell)
                cv2.putText(cell, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
                row.append(cell)
            path = folder / f"{pair_id}.png"
            cv2.imwrite(str(path), np.hstack(row))
            written.append(path)
        return written


def table_columns(cfg: EvalConfig) -> list[str]:
    """``cfg.table_metrics``, plus ``lpips`` after ``psnr`` (else last) when LPIPS is on."""
    columns = list(cfg.table_metrics)
    if cfg.lpips_weights and "lpips" not in columns:
        at = columns.index("psnr") + 1 if "psnr" in columns else len(columns)
        columns.insert(at, "lpips")
    return columns


def _pair_models(uris: dict[str, str]) -> tuple[PyfuncPlanner, PyfuncEditor]:
    return PyfuncPlanner(load_pyfunc(uris["thinker"])), PyfuncEditor(load_pyfunc(uris["editor"]))


def run_eval(
    cfg: EvalConfig,
    promote_cfg: PromoteConfig,
    release_dir: Path,
    out: Path,
    client: Any,
    release_version: str,
) -> dict[str, Any]:
    """Benchmark the candidate pair (and staging); write the outputs; return the report."""
    out = Path(out)
    items = load_test_items(release_dir, cfg.split, cfg.limit)
    perceptual = None
    if cfg.lpips_weights:  # before any model loads: a bad weights file fails fast
        from aesformer.evaluation.perceptual import load_lpips

        perceptual = load_lpips(cfg.lpips_weights)
    thinker = resolve_version(client, cfg.thinker_model_uri)
    editor = resolve_version(client, cfg.editor_model_uri)
    candidate_versions = {thinker[0]: thinker[1], editor[0]: editor[1]}
    expected = {promote_cfg.thinker_model, promote_cfg.editor_model}
    if set(candidate_versions) != expected:
        raise ValueError(
            f"eval.thinker_model_uri / editor_model_uri name {sorted(candidate_versions)}, but "
            f"promotion expects {sorted(expected)}"
        )
    log.info("eval: candidate %s on %d %s pairs", candidate_versions, len(items), cfg.split)
    planner, editor_model = _pair_models(
        {
            "thinker": f"models:/{thinker[0]}/{thinker[1]}",
            "editor": f"models:/{editor[0]}/{editor[1]}",
        }
    )
    from aesformer.scoring.aesthetic import get_scorer

    scorer = get_scorer(cfg.aesthetic_scorer, cfg.aesthetic_weights, cfg.trust_remote_code_for)
    grids = GridCollector(cfg.grid_items)
    result = run_benchmark(
        items,
        planner,
        editor_model,
        systems=cfg.systems,
        scorer=scorer,
        perceptual=perceptual,
        on_output=grids,
    )
    systems = dict(result["systems"])
    errors = list(result["errors"])

    staging = None
    current = staging_versions(client, promote_cfg) if cfg.compare_staging else None
    if current is not None and current != candidate_versions:
        log.info("eval: staging pair %s on the same pairs", current)
        s_planner, s_editor = _pair_models(
            {
                "thinker": f"models:/{promote_cfg.thinker_model}/{current[promote_cfg.thinker_model]}",
                "editor": f"models:/{promote_cfg.editor_model}/{current[promote_cfg.editor_model]}",
            }
        )
        staged = run_benchmark(
            items,
            s_planner,
            s_editor,
            systems=["pipeline"],
            scorer=scorer,
            perceptual=perceptual,
        )
        errors += staged["errors"]
        systems["staging"] = staged["systems"]["pipeline"]
        staging = {"versions": current, "metrics": systems["staging"]}
    elif current is not None:
        # the candidate *is* staging: the comparison is with itself
        staging = {"versions": current, "metrics": systems.get("pipeline", {})}

    report = {
        "release_version": release_version,
        "split": cfg.split,
        "pairs": len(items),
        "candidate": {"versions": candidate_versions, "metrics": systems.get("pipeline", {})},
        "staging": staging,
        "systems": systems,
        "errors": errors,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metrics.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    header = (
        f"Eval on release `{release_version}`, {len(items)} {cfg.split} pairs; candidate "
        + ", ".join(f"`{k}` v{v}" for k, v in sorted(candidate_versions.items()))
        + (
            "; staging " + ", ".join(f"`{k}` v{v}" for k, v in sorted(current.items()))
            if current
            else "; nothing in staging"
        )
    )
    write_text(
        out / "table.md",
        header + "\n\n" + table_markdown(systems, table_columns(cfg)) + "\n",
    )
    dims = [
        {
            "dimension": key,
            "candidate": systems.get("pipeline", {}).get(f"plan_alignment_{key}"),
            "staging": (staging or {}).get("metrics", {}).get(f"plan_alignment_{key}"),
        }
        for key in DIMENSION_KEYS
    ]
    write_text(out / "plan_dimensions.json", json.dumps(dims, indent=2) + "\n")
    grids.write(out / "grids")
    return report
