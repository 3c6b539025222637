"""Dataset release flow: mine → align → annotate → split (+ gate) → release, then publish.

Run (embedded default; a release needs a git checkout with a DVC remote, see docs/release.md):

    python flows/release.py --version 1.0.0                          # the configured videos
    python flows/release.py --version 1.1.0 --videos data/videos     # another source of videos

``--videos`` sets ``mine.source`` in params.yaml (comments kept, validated), so DVC records
it as a params change. The DVC stages up to ``release`` run as tasks of the pipeline flow
(skipped when up to date; a failing gate fails the flow and quarantines the candidate). The
pointers (dvc.lock, params.yaml, DVC's .gitignore files) are committed, then the release is
published: git tag ``data-v<version>``, ``dvc push``, an MLflow dataset input (the ``release``
deployment also pushes the tag to ``origin``: ``push_tag``). Publishing the
same data again is a no-op that says so; a version that exists with other data is refused.
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
from aesformer.orchestration import commit_paths, git, set_params, stage_names  # noqa: E402
from flows.pipeline import pipeline  # noqa: E402

RELEASE_STAGE = "release"
POINTERS = ["dvc.lock", "params.yaml", "data/.gitignore", "reports/.gitignore"]


@task(name="set-videos-source")
def set_videos(root: Path, videos: str) -> None:
    set_params(root / "params.yaml", {"mine.source": videos})
    get_run_logger().info("mine.source = %s", videos)


@task(name="commit-pointers")
def commit_pointers(root: Path, version: str) -> bool:
    made = commit_paths(root, POINTERS, f"Data release {version}: pipeline outputs (dvc.lock)")
    get_run_logger().info("committed pipeline pointers" if made else "pointers already committed")
    return made


@task(name="publish-release", task_run_name="publish {version}")
def publish_release(root: Path, version: str, params_file: str) -> dict:
    from aesformer.release import publish

    cfg = load_params(root / params_file)
    result = publish(root, Path("data/release"), version, cfg.remote, cfg.tracking, cfg.release)
    get_run_logger().info(result.message)
    create_markdown_artifact(
        key="data-release",
        markdown="\n".join(
            [
                f"### Data release `{result.tag}`: {result.status}",
                "",
                f"- digest `{result.digest}` (MLflow dataset `{result.dataset_name}`)",
                f"- data: `{result.source}`",
                f"- pull: `git checkout {result.tag} && dvc pull data/release`",
                f"- MLflow run: `{result.mlflow_run_id}`",
            ]
        ),
        description=f"release {version}",
    )
    return {"status": result.status, "tag": result.tag, "digest": result.digest}


@task(name="push-release-tag", task_run_name="git push origin {tag}")
def push_release_tag(root: Path, tag: str) -> None:
    """A deployment's clone is gone after the run: the tag (and the pointer commit it names)
    goes to ``origin``. A tag that exists there with another commit is refused by git."""
    git(root, "push", "--quiet", "origin", f"refs/tags/{tag}")
    get_run_logger().info("pushed %s to origin", tag)


@flow(name="aesformer-release", log_prints=True)
def release(
    version: str,
    videos: str | None = None,
    params_file: str = "params.yaml",
    root: str | None = None,
    force: bool = False,
    push_tag: bool = False,
) -> dict:
    """Build and publish dataset release ``version`` (see the module docstring)."""
    repo = Path(root).resolve() if root else project_root()
    from aesformer.release import check_version

    check_version(version)  # fail before any work
    if videos:
        set_videos(repo, videos)
    order = stage_names(repo)
    if RELEASE_STAGE not in order:
        raise AesformerError(f"{repo / 'dvc.yaml'}: no stage {RELEASE_STAGE!r}")
    upto = order[: order.index(RELEASE_STAGE) + 1]
    pipeline(stages=upto, params_file=params_file, force=force, root=str(repo))
    commit_pointers(repo, version)
    published = publish_release(repo, version, params_file)
    if push_tag:
        push_release_tag(repo, published["tag"])
    print(f"release {published['tag']}: {published['status']}")
    return published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", required=True, help="release version, e.g. 1.0.0")
    parser.add_argument("--videos", default=None, help="videos to mine (sets mine.source)")
    parser.add_argument("--params", default="params.yaml", help="params file, relative to the repo")
    parser.add_argument("--force", action="store_true", help="re-run stages DVC finds up to date")
    args = parser.parse_args(argv)
    try:
        release(args.version, args.videos, args.params, str(project_root()), args.force)
    except AesformerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
