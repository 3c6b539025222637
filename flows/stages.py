"""Deployment flows over named DVC stages, each flow run in its own checkout.

The deployments of ``prefect.yaml`` (docs/operations.md) run these on the GPU work pool:

    train-thinker   stages sft, grpo
    train-editor    stage editor      (the AesEditor stage)
    evaluate        stage eval

(The ``promote`` deployment runs flows/promote.py: eval, then the registry decision.)

A stage the checkout's ``dvc.yaml`` lacks fails the run before any work, naming what it has.
Run locally (the same code path as a worker):

    python flows/stages.py train-thinker                        # a worktree under $TMPDIR
    python flows/stages.py train-editor --stages editor --workdir /scratch/runs
    python flows/stages.py train-thinker --in-place              # no worktree (a fresh clone)

DVC locks a workspace during ``repro``, so with ``isolate`` (default) each flow run works in
a ``git worktree`` of the repository at ``ref`` under ``workdir`` that shares the DVC cache;
the resulting ``dvc.lock`` is committed there and kept on branch ``runs/<flow-run-name>``.
A deployment whose pull step cloned the repository for this run passes ``isolate: false``
and ``push: true``: the outputs go to the DVC remote and ``runs/<flow-run-name>`` to ``origin``.
Every run publishes a ``lineage`` artifact: flow run id, MLflow run ids (tagged back with the
release and commits), the data release and both git commits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

from aesformer.runtime import apply_embedded_env, project_root

apply_embedded_env()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `flows` when run as a script

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402
from prefect.runtime import flow_run  # noqa: E402

from aesformer import orchestration as orch  # noqa: E402
from aesformer.config import load_params  # noqa: E402
from aesformer.errors import AesformerError  # noqa: E402
from aesformer.tracking import resolve_tracking_uri  # noqa: E402
from flows.pipeline import run_stage  # noqa: E402

THINKER_STAGES = ["sft", "grpo"]
EDITOR_STAGES = ["editor"]
EVAL_STAGES = ["eval"]


@task(name="open-checkout", task_run_name="checkout {ref} as {name}")
def open_checkout(source: Path, workdir: Path, name: str, ref: str) -> Path:
    path = orch.open_checkout(source, workdir, name, ref)
    get_run_logger().info("worktree %s at %s", path, orch.git(path, "rev-parse", "HEAD"))
    return path


@task(name="fetch-inputs")
def fetch_inputs(root: Path, stages: list[str]) -> list[str]:
    """The outputs the stages read (required), then their own persisted outputs (optional)."""
    logger = get_run_logger()
    paths = orch.upstream_outputs(root, stages)
    orch.fetch_outputs(root, paths, logger.info)
    persisted = orch.persisted_outputs(root, stages)
    orch.fetch_outputs(root, persisted, logger.info, required=False)
    return paths + persisted


@task(name="record-lineage")
def record_lineage(
    root: Path, stages: list[str], source_commit: str, branch: str, tracking_uri: str
) -> dict:
    """Commit dvc.lock on ``branch``, find the MLflow runs of this flow run, tag them with the
    release and commits, publish the ``lineage`` artifact."""
    run_id = str(flow_run.get_id() or "")
    result = orch.record_checkout(root, branch, f"Flow run {run_id}: {', '.join(stages)}")
    cfg = load_params(root / "params.yaml")
    record = {
        "flow_run_id": run_id,
        "stages": stages,
        "source_commit": source_commit,
        "result_commit": result,
        "branch": branch,
        "release": orch.release_of(root),
        "tracking_uri": tracking_uri,
        "runs": orch.runs_of_flow_run(tracking_uri, cfg.tracking.experiment, run_id),
    }
    orch.tag_runs(
        tracking_uri,
        [r["run_id"] for r in record["runs"]],
        {
            "dvc.release": record["release"]["tag"],
            "dvc.release.md5": record["release"]["md5"],
            "git.result_commit": record["result_commit"],
        },
    )
    create_markdown_artifact(
        key="lineage", markdown=orch.lineage_markdown(record), description=f"flow run {run_id}"
    )
    return record


@task(name="push-results")
def push_results(root: Path, stages: list[str], branch: str, clone: bool) -> list[str]:
    """``dvc push`` the stages' outputs; a clone also pushes its result branch to ``origin``
    (a worktree's branch is already in the source repository)."""
    logger = get_run_logger()
    paths = orch.push_outputs(root, stages, logger.info)
    if clone:
        orch.push_branch(root, branch)
        logger.info("git push origin %s", branch)
    return paths


@task(name="close-checkout")
def close_checkout(source: Path, checkout: Path) -> None:
    orch.close_checkout(source, checkout)


def run_in_checkout(
    stages: list[str],
    root: str | None,
    ref: str,
    isolate: bool,
    workdir: str | None,
    keep_checkout: bool,
    force: bool,
    push: bool,
) -> dict:
    """The body every deployment flow shares: select, check out, fetch, run, record, push."""
    if not isolate and ref != "HEAD":
        raise AesformerError(
            f"ref {ref!r} needs an isolated run (in place runs the checkout's HEAD)"
        )
    source = Path(root).resolve() if root else project_root()
    selected = orch.select_stages(source, stages, ref if isolate else None)  # before any work
    source_commit = orch.git(source, "rev-parse", "--verify", f"{ref}^{{commit}}")
    run_id = str(flow_run.get_id() or uuid.uuid4())
    name = f"{flow_run.get_name() or 'local'}-{run_id[:8]}"
    branch = f"runs/{name}"
    tracking_uri = resolve_tracking_uri(load_params(source / "params.yaml").tracking, source)
    repo = source
    if isolate:
        base = Path(workdir or os.environ.get("AESFORMER_CHECKOUT_DIR") or tempfile.gettempdir())
        repo = open_checkout(source, base / "aesformer-checkouts", name, ref)
    try:
        fetch_inputs(repo, selected)
        cfg = load_params(repo / "params.yaml")
        staged = run_stage.with_options(
            retries=cfg.orchestration.retries,
            retry_delay_seconds=cfg.orchestration.retry_delay_seconds,
        )
        # the checkout's stages log to the source's MLflow store, not to a copy in the worktree
        env = {"MLFLOW_TRACKING_URI": tracking_uri}
        results = [staged(repo, stage, force, env) for stage in selected]
        record = record_lineage(repo, selected, source_commit, branch, tracking_uri)
        if push:
            record["pushed"] = push_results(repo, selected, branch, clone=not isolate)
    except BaseException:
        if isolate:
            get_run_logger().error("run failed; its worktree is kept for inspection: %s", repo)
        raise
    if isolate and not keep_checkout:
        close_checkout(source, repo)
    print(f"stages run: {[r['stage'] for r in results if r['ran']] or 'none (all up to date)'}")
    return record


@flow(name="aesformer-train-thinker", log_prints=True)
def train_thinker(
    stages: list[str] | None = None,
    root: str | None = None,
    ref: str = "HEAD",
    isolate: bool = True,
    workdir: str | None = None,
    keep_checkout: bool = False,
    force: bool = False,
    push: bool = False,
) -> dict:
    """AesThinker: SFT then GRPO-A (stages ``sft``, ``grpo`` unless ``stages`` says otherwise)."""
    return run_in_checkout(
        stages or THINKER_STAGES, root, ref, isolate, workdir, keep_checkout, force, push
    )


@flow(name="aesformer-train-editor", log_prints=True)
def train_editor(
    stages: list[str] | None = None,
    root: str | None = None,
    ref: str = "HEAD",
    isolate: bool = True,
    workdir: str | None = None,
    keep_checkout: bool = False,
    force: bool = False,
    push: bool = False,
) -> dict:
    """AesEditor fine-tuning (stage ``editor`` unless ``stages`` says otherwise)."""
    return run_in_checkout(
        stages or EDITOR_STAGES, root, ref, isolate, workdir, keep_checkout, force, push
    )


@flow(name="aesformer-evaluate", log_prints=True)
def evaluate(
    stages: list[str] | None = None,
    root: str | None = None,
    ref: str = "HEAD",
    isolate: bool = True,
    workdir: str | None = None,
    keep_checkout: bool = False,
    force: bool = False,
    push: bool = False,
) -> dict:
    """Evaluation of the trained pair (stage ``eval``)."""
    return run_in_checkout(
        stages or EVAL_STAGES, root, ref, isolate, workdir, keep_checkout, force, push
    )


FLOWS = {
    "train-thinker": train_thinker,
    "train-editor": train_editor,
    "evaluate": evaluate,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("flow", choices=sorted(FLOWS))
    parser.add_argument("--stages", nargs="*", default=None, help="override the flow's stages")
    parser.add_argument("--ref", default="HEAD", help="git commit/branch to run (isolated)")
    parser.add_argument("--workdir", default=None, help="where worktrees go ($TMPDIR)")
    parser.add_argument("--in-place", action="store_true", help="run in this checkout")
    parser.add_argument("--keep-checkout", action="store_true", help="keep the worktree")
    parser.add_argument("--force", action="store_true", help="re-run stages DVC finds up to date")
    parser.add_argument("--push", action="store_true", help="dvc push the stages' outputs")
    args = parser.parse_args(argv)
    try:
        FLOWS[args.flow](
            stages=args.stages,
            root=str(project_root()),
            ref=args.ref,
            isolate=not args.in_place,
            workdir=args.workdir,
            keep_checkout=args.keep_checkout,
            force=args.force,
            push=args.push,
        )
    except AesformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
