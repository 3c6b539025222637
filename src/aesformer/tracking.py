"""The one way a stage opens an MLflow run.

Experiment per pipeline (``tracking.experiment``), run per stage execution, and lineage tags
on every run:

- ``aesformer.stage``: the stage name;
- ``git.commit`` / ``git.dirty``: the code that ran;
- ``dvc.dep.<path>``: the DVC hash (from ``dvc.lock``) of each dependency that another stage
  produced, i.e. the exact data version the stage read; ``dvc.lock.md5`` for the whole lock;
- ``params.section``: the params section the stage used; its values are logged as params.

``MLFLOW_TRACKING_URI`` in the environment overrides ``tracking.tracking_uri``. mlflow is
imported lazily: it costs about a second and the CLI must start fast.

``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into ``os.environ`` (for
subprocesses), which would turn the first URI a process used into an "override" of every later
config; :func:`use_tracking_uri` is the one place the project sets it, and it leaves the
environment as it found it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from aesformer.config import TrackingConfig

log = logging.getLogger(__name__)

# Keys whose values must never reach MLflow (credentials are not config, but be safe).
_SECRET_MARKERS = ("secret", "password", "token", "access_key", "api_key", "credential")


def resolve_tracking_uri(cfg: TrackingConfig, root: Path) -> str:
    """Env override first; a relative ``sqlite:///file`` is made absolute under ``root``."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking_uri
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri[len(prefix) :].startswith("/"):
        uri = prefix + str((root / uri[len(prefix) :]).resolve())
    return uri


def use_tracking_uri(uri: str) -> None:
    """``mlflow.set_tracking_uri(uri)`` without its side effect on ``MLFLOW_TRACKING_URI``."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def resolve_artifact_location(cfg: TrackingConfig, root: Path, tracking_uri: str) -> str | None:
    """Folder → absolute file URI; URIs pass; with an HTTP server a folder means 'server default'."""
    loc = cfg.artifact_location
    if "://" in loc:
        return loc
    if tracking_uri.startswith(("http://", "https://")):
        return None
    return (root / loc).resolve().as_uri()


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}}`` → ``{"a.b": "1"}``; secret-looking keys are dropped."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if any(m in key.lower() for m in _SECRET_MARKERS):
            continue
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:500]
    return out


def git_info(root: Path) -> dict[str, str]:
    """Commit (``none`` before the first commit) and dirty flag; empty outside a git repo."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    try:
        status = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return {}
    if status.returncode != 0:
        return {}
    head = git("rev-parse", "--verify", "-q", "HEAD")
    commit = head.stdout.strip() if head.returncode == 0 else "none"
    return {"git.commit": commit, "git.dirty": str(bool(status.stdout.strip())).lower()}


def dvc_lineage(root: Path, stage: str) -> dict[str, str]:
    """Hashes, from ``dvc.lock``, of the stage's dependencies that other stages produced."""
    lock_file, dvc_file = root / "dvc.lock", root / "dvc.yaml"
    tags: dict[str, str] = {}
    if not lock_file.is_file() or not dvc_file.is_file():
        return tags
    raw = lock_file.read_bytes()
    tags["dvc.lock.md5"] = hashlib.md5(raw).hexdigest()
    lock = yaml.safe_load(raw) or {}
    spec = (yaml.safe_load(dvc_file.read_text()) or {}).get("stages", {}).get(stage, {})
    produced: dict[str, str] = {}
    for entry in (lock.get("stages") or {}).values():
        for out in entry.get("outs") or []:
            if "md5" in out:
                produced[out["path"]] = out["md5"]
    for dep in spec.get("deps") or []:
        if dep in produced:
            tags[f"dvc.dep.{dep}"] = produced[dep]
    return tags


@contextlib.contextmanager
def stage_run(
    stage: str,
    cfg: TrackingConfig,
    section: BaseModel | None = None,
    root: Path | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Open an MLflow run for one stage execution; yields the active run (or None if disabled).

    The run is marked FAILED if the body raises, and the exception propagates.
    """
    if not cfg.enabled:
        yield None
        return
    import mlflow

    root = (root or Path.cwd()).resolve()
    uri = resolve_tracking_uri(cfg, root)
    use_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(cfg.experiment)
    if experiment is None:
        exp_id = mlflow.create_experiment(
            cfg.experiment, artifact_location=resolve_artifact_location(cfg, root, uri)
        )
    else:
        exp_id = experiment.experiment_id
    tags = {"aesformer.stage": stage, **git_info(root), **dvc_lineage(root, stage)}
    if section is not None:
        tags["params.section"] = stage
    for key in ("PREFECT__FLOW_RUN_ID", "AESFORMER_FLOW_RUN_ID"):
        if os.environ.get(key):
            tags["prefect.flow_run_id"] = os.environ[key]
    tags.update(extra_tags or {})
    with mlflow.start_run(experiment_id=exp_id, run_name=stage, tags=tags) as run:
        if section is not None:
            mlflow.log_params(flatten(section.model_dump(mode="json"), prefix=f"{stage}."))
        log.info("MLflow run %s (experiment %s) at %s", run.info.run_id, cfg.experiment, uri)
        yield run


def log_metrics(metrics: Mapping[str, Any]) -> None:
    """Log numeric values of ``metrics`` to the active run (if any); others are skipped."""
    import mlflow

    if mlflow.active_run() is None:
        return
    numeric = numeric_items(metrics)
    if numeric:
        mlflow.log_metrics(numeric)


def numeric_items(data: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """``{"a": {"b": 1}, "c": "x"}`` → ``{"a.b": 1.0}``: int/float leaves only (no bools, no
    numeric-looking strings such as hashes)."""
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(numeric_items(value, f"{prefix}{key}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def log_artifacts(folder: Path, artifact_path: str) -> None:
    """Log every file under ``folder`` as artifacts of the active run (no-op without a run)."""
    import mlflow

    if mlflow.active_run() is None or not Path(folder).is_dir():
        return
    mlflow.log_artifacts(str(folder), artifact_path)


def log_image(image_bgr: Any, artifact_file: str) -> None:
    """Log a BGR uint8 array as a PNG artifact of the active run (no-op without a run)."""
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_image(image_bgr[..., ::-1].copy(), artifact_file)


def pinned_requirements(names: Sequence[str]) -> list[str]:
    """``names`` pinned to their installed versions (local build tags like ``+cpu`` dropped;
    a package that is not installed stays unpinned): the ``pip_requirements`` of a logged
    model, so a serving environment gets what training used."""
    from importlib import metadata

    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name).split('+', 1)[0]}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins
