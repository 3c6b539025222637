"""End-to-end pipeline flow: each task runs one DVC stage, in dvc.yaml order.

Run (embedded default; ``make run`` does this after set-up):

    python flows/pipeline.py                      # all stages
    python flows/pipeline.py --stages corpus      # a subset, in pipeline order
    python flows/pipeline.py --force              # re-run even if DVC says up to date

DVC decides what is stale; a stage whose inputs did not change is skipped (and so logs no
MLflow run). Each stage's outputs and hashes from dvc.lock are published as a Prefect
markdown artifact ``stage-<name>``. Retries come from ``orchestration.*`` in params.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aesformer.runtime import apply_embedded_env, project_root

# Prefect reads PREFECT_HOME and friends when it is imported: fill the embedded defaults first.
apply_embedded_env()

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402

from aesformer.config import load_params  # noqa: E402
from aesformer.errors import AesformerError  # noqa: E402
from aesformer.orchestration import (  # noqa: E402
    outputs_markdown,
    report_pages,
    repro_stage,
    stage_names,
    stage_outputs,
)


@task(name="dvc-stage", task_run_name="dvc repro {stage}")
def run_stage(
    root: Path, stage: str, force: bool = False, env: dict[str, str] | None = None
) -> dict:
    """Run one DVC stage, stream its output into the task log, publish its outputs table.
    ``env`` adds variables for the stage's command (e.g. ``MLFLOW_TRACKING_URI``)."""
    logger = get_run_logger()
    env = {**(env or {}), "AESFORMER_FLOW_RUN_ID": str(flow_run.get_id() or "")}
    ran = repro_stage(root, stage, logger.info, force=force, env=env)
    rows = stage_outputs(root, stage)
    create_markdown_artifact(
        key=f"stage-{stage}".lower().replace("_", "-"),
        markdown=outputs_markdown(stage, rows, ran, report_pages(root, rows)),
        description=f"outputs of DVC stage {stage}",
    )
    return {"stage": stage, "ran": ran, "outputs": rows}


@flow(name="aesformer-pipeline", log_prints=True)
def pipeline(
    stages: list[str] | None = None,
    params_file: str = "params.yaml",
    force: bool = False,
    root: str | None = None,
) -> list[dict]:
    """Run the DVC stages (all, or ``stages``) in pipeline order; a failed stage fails the flow."""
    repo = Path(root).resolve() if root else project_root()
    cfg = load_params(repo / params_file)
    order = stage_names(repo)
    unknown = sorted(set(stages or []) - set(order))
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}; dvc.yaml has {order}")
    selected = [s for s in order if not stages or s in stages]
    staged = run_stage.with_options(
        retries=cfg.orchestration.retries,
        retry_delay_seconds=cfg.orchestration.retry_delay_seconds,
    )
    results = [staged(repo, stage, force) for stage in selected]
    ran = [r["stage"] for r in results if r["ran"]]
    print(f"stages run: {ran or 'none (all up to date)'}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", nargs="*", default=None, help="subset of dvc.yaml stages")
    parser.add_argument("--params", default="params.yaml", help="params file, relative to the repo")
    parser.add_argument(
        "--force", action="store_true", help="re-run stages DVC considers up to date"
    )
    args = parser.parse_args(argv)
    root = project_root()
    try:
        pipeline(stages=args.stages, params_file=args.params, force=args.force, root=str(root))
    except AesformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(where_things_are(root))
    return 0


def where_things_are(root: Path) -> str:
    """The closing message of ``make run``: outputs and how to open the UIs."""
    cfg = load_params(root / "params.yaml")
    return "\n".join(
        [
            "",
            "Pipeline finished. Outputs (DVC-tracked; `dvc status` / `dvc dag`):",
            *(
                f"  {r['path']}  md5={r['md5']}"
                for s in stage_names(root)
                for r in stage_outputs(root, s)
            ),
            f"MLflow runs:  {cfg.tracking.tracking_uri} (experiment {cfg.tracking.experiment!r})",
            "  UI:         make mlflow-ui   -> http://127.0.0.1:5000",
            f"Prefect runs: {root / '.prefect'}",
            "  UI:         make prefect-ui  -> http://127.0.0.1:4200",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
