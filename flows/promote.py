"""Promotion flow: (re-)run eval, then move the `staging` aliases if the metrics say so.

Run:

    python flows/promote.py                         # dvc repro eval, then promote its report
    python flows/promote.py --no-eval --thinker 3 --editor 2   # promote an existing report

The decision (promoted / refused / unchanged, each rule's numbers) is published as the
Prefect markdown artifact ``promotion`` and as tags on the candidate model versions
(docs/evaluation.md#promotion). A refused promotion completes the flow: it is a decision, not a
failure; the return value and the artifact say what failed and by how much.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aesformer.runtime import apply_embedded_env, project_root

apply_embedded_env()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `flows` when run as a script

from prefect import flow, get_run_logger, task  # noqa: E402
from prefect.artifacts import create_markdown_artifact  # noqa: E402

from aesformer.config import load_params  # noqa: E402
from aesformer.errors import AesformerError  # noqa: E402
from aesformer.orchestration import stage_names  # noqa: E402
from flows.pipeline import pipeline  # noqa: E402

EVAL_STAGE = "eval"


def decision_markdown(decision: dict, report: dict) -> str:
    """The artifact: the decision, then one row per rule."""
    versions = ", ".join(f"`{k}` v{v}" for k, v in sorted(report["candidate"]["versions"].items()))
    lines = [
        f"### Promotion of {versions}: {decision['message'].split(':')[0]}",
        "",
        f"release `{report['release_version']}`",
        "",
        decision["message"],
        "",
    ]
    if decision["checks"]:
        lines += ["| metric | candidate | staging | needed | passed |", "|---|---|---|---|---|"]
        for c in decision["checks"]:
            cells = [c["candidate"], c["staging"], c["required"]]
            shown = ["–" if v is None else f"{v:.4g}" for v in cells]
            lines.append(
                f"| {c['metric']} | {' | '.join(shown)} | {'yes' if c['passed'] else 'no'} |"
            )
    return "\n".join(lines)


@task(name="promote-pair")
def promote_pair(
    root: Path, params_file: str, metrics: str, thinker: str | None, editor: str | None
) -> dict:
    from mlflow import MlflowClient

    from aesformer.evaluation.promotion import promote_from_report, read_report
    from aesformer.tracking import git_info, resolve_tracking_uri

    cfg = load_params(root / params_file)
    report = read_report(root / metrics)
    client = MlflowClient(tracking_uri=resolve_tracking_uri(cfg.tracking, root))
    decision = promote_from_report(
        client,
        report,
        cfg.promote,
        git_commit=git_info(root).get("git.commit", "unknown"),
        versions={cfg.promote.thinker_model: thinker, cfg.promote.editor_model: editor},
    ).as_dict()
    get_run_logger().info(decision["message"])
    create_markdown_artifact(
        key="promotion",
        markdown=decision_markdown(decision, report),
        description="promotion decision",
    )
    return decision


@flow(name="aesformer-promote", log_prints=True)
def promote(
    metrics: str = "reports/eval/metrics.json",
    thinker: str | None = None,
    editor: str | None = None,
    run_eval: bool = True,
    params_file: str = "params.yaml",
    root: str | None = None,
) -> dict:
    """Evaluate (unless ``run_eval`` is false) and promote; see the module docstring."""
    repo = Path(root).resolve() if root else project_root()
    if run_eval:
        if EVAL_STAGE not in stage_names(repo):
            raise AesformerError(
                f"{repo / 'dvc.yaml'}: no stage {EVAL_STAGE!r} to run; promote an existing "
                "report with run_eval=False (--no-eval)"
            )
        pipeline(stages=[EVAL_STAGE], params_file=params_file, root=str(repo))
    decision = promote_pair(repo, params_file, metrics, thinker, editor)
    print(decision["message"])
    return decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--metrics", default="reports/eval/metrics.json", help="eval report")
    parser.add_argument("--thinker", default=None, help="aesthinker version (checked)")
    parser.add_argument("--editor", default=None, help="aeseditor version (checked)")
    parser.add_argument("--no-eval", action="store_true", help="do not run the eval stage first")
    parser.add_argument("--params", default="params.yaml", help="params file, relative to the repo")
    args = parser.parse_args(argv)
    try:
        decision = promote(
            args.metrics, args.thinker, args.editor, not args.no_eval, args.params,
            str(project_root()),
        )  # fmt: skip
    except AesformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if decision["promote"] or decision["unchanged"] else 3


if __name__ == "__main__":
    sys.exit(main())
