"""Version a release: git tag, DVC push to the configured remote, MLflow dataset input.

``publish(root, release_dir, version, remote_cfg, tracking_cfg)``:

1. checks the version (:data:`VERSION_RE`: ``MAJOR.MINOR.PATCH`` with an optional
   ``-prerelease``, e.g. ``1.0.0``, ``1.1.0-rc.1``) and the release (its images hashed against
   the manifest, :func:`~aesformer.release.export.release_digest` with ``verify=True``);
2. checks the folder is DVC-tracked (``<release>.dvc`` or an output in ``dvc.lock``), that the
   data matches that pointer (``dvc status``) and that the pointer file is committed in git
   unchanged — so the tagged commit is the one whose ``dvc pull`` gives this data;
3. tag ``<tag_prefix><version>`` (``data-v1.0.0``): absent → an annotated tag on ``HEAD`` whose
   message holds the release record (JSON: version, digest, DVC md5, counts, time, remote);
   present with another digest → :class:`VersionExists` (a version is never overwritten);
   present with the same digest → nothing is re-tagged;
4. ``dvc push`` of the release to the remote of ``remote_cfg`` (written to
   ``.dvc/config.local`` by :func:`aesformer.storage.configure_dvc_remote`); a failure raises
   :class:`PushFailed` saying whether the remote was unreachable — the local release and the tag
   stay, and calling ``publish`` again pushes;
5. one MLflow run (``stage_run("release", ...)``) logging the manifest as a dataset input
   (``mlflow.data.from_pandas(manifest, source=<remote object of the DVC directory>,
   name="<dataset_name>-<version>", digest=<digest>)``, context ``release``); skipped when a
   finished run of that version and digest exists.

Re-publishing identical data whose push and MLflow record are complete does nothing and says
``already released, identical: nothing to do``. Credentials come only from the environment
(DVC/boto3 read ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or the named profile).
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from aesformer.config import ReleaseConfig, RemoteConfig, TrackingConfig
from aesformer.errors import AesformerError, ConfigError, InputError
from aesformer.release import layout
from aesformer.release.export import read_manifest, release_digest

log = logging.getLogger("aesformer.release")

#: Accepted versions: SemVer 2.0 core with an optional pre-release, no build metadata.
VERSION_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
#: Phrases in DVC's error output that mean the remote could not be reached.
UNREACHABLE_MARKERS = (
    "could not connect",
    "connection refused",
    "connect timeout",
    "endpointconnectionerror",
    "name or service not known",
    "failed to establish a new connection",
    "cannot connect",
    "unable to connect",
    "connection reset",
    "timed out",
)


class VersionExists(AesformerError):
    """The version is already released with different data."""


class PushFailed(AesformerError):
    """``dvc push`` failed; the local release and tag are kept, a later publish retries."""


class GitError(AesformerError):
    """A git command failed."""


@dataclass
class PublishResult:
    """What :func:`publish` did.

    ``status``: ``released`` (new tag, pushed, logged), ``resumed`` (the tag existed with the
    same data; a pending push or MLflow record was completed) or ``unchanged`` (nothing to do).
    """

    version: str
    tag: str
    digest: str
    dataset_name: str
    source: str
    dvc_md5: str
    status: str
    pushed: bool
    mlflow_run_id: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_version(version: str) -> str:
    """Return ``version`` when it matches :data:`VERSION_RE`, else raise :class:`ConfigError`."""
    if not VERSION_RE.match(version or ""):
        hint = " (without the leading v)" if version.startswith("v") else ""
        raise ConfigError(
            f"release version {version!r} is not MAJOR.MINOR.PATCH[-prerelease]{hint}, "
            "e.g. 1.0.0 or 1.1.0-rc.1"
        )
    return version


def publish(
    root: Path,
    release_dir: Path,
    version: str,
    remote_cfg: RemoteConfig,
    tracking_cfg: TrackingConfig,
    cfg: ReleaseConfig | None = None,
) -> PublishResult:
    """Tag, push and record the release ``release_dir`` (inside the git+DVC repo ``root``) as
    ``version``; see the module docstring. Raises :class:`ConfigError` (bad version),
    :class:`InputError` (not a release, not DVC-tracked, data or pointer not committed),
    :class:`VersionExists`, :class:`GitError`, :class:`PushFailed`."""
    from aesformer.storage import configure_dvc_remote

    cfg = cfg or ReleaseConfig()
    root = Path(root).resolve()
    release_dir = (root / release_dir).resolve()
    check_version(version)
    if not release_dir.is_relative_to(root):
        raise InputError(f"{release_dir}: the release must lie inside the repository {root}")
    tag = f"{cfg.tag_prefix}{version}"
    digest = release_digest(release_dir, verify=True)
    target = release_dir.relative_to(root).as_posix()
    pointer, dvc_md5 = dvc_pointer(root, target)
    _check_committed(root, target, pointer)

    url = configure_dvc_remote(remote_cfg, root)
    source = dataset_source(url, dvc_md5)
    name = f"{cfg.dataset_name}-{version}"
    existing = read_tag(root, tag)
    if existing is not None and existing.get("digest") != digest:
        raise VersionExists(
            f"release {version} already exists (git tag {tag}, digest {existing.get('digest')}) "
            f"with different data (this release: digest {digest}); a version is never "
            "overwritten: publish it under a new version"
        )
    created = existing is None
    if created:
        frame = read_manifest(release_dir)
        counts = {f"pairs_{s}": int((frame["split"] == s).sum()) for s in layout.SPLITS}
        record = {
            "version": version,
            "digest": digest,
            "dvc_md5": dvc_md5,
            "dvc_pointer": pointer,
            "path": target,
            "pairs": len(frame),
            **counts,
            "dataset_name": name,
            "source": source,
            "remote": remote_cfg.name,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        _git(root, "tag", "-a", "--cleanup=verbatim", "-m", _tag_message(record), tag, "HEAD")
        log.info("release %s: tagged %s (digest %s)", version, tag, digest)

    transferred = push(root, target, remote_cfg, url, tag)
    run_id, logged_now = log_release(
        root, release_dir, version, digest, name, source, tracking_cfg, cfg, tag, dvc_md5
    )
    if created:
        status, message = "released", f"released {version}: tag {tag}, digest {digest}, pushed"
    elif transferred or logged_now:
        status = "resumed"
        done = [w for w, did in (("pushed", transferred), ("logged to MLflow", logged_now)) if did]
        message = f"{tag} already released with identical data; now {' and '.join(done)}"
    else:
        status = "unchanged"
        message = f"{tag} already released, identical: nothing to do"
    log.info("release %s: %s", version, message)
    return PublishResult(
        version=version,
        tag=tag,
        digest=digest,
        dataset_name=name,
        source=source,
        dvc_md5=dvc_md5,
        status=status,
        pushed=transferred,
        mlflow_run_id=run_id,
        message=message,
    )


# --------------------------------------------------------------------------- DVC
def dvc_pointer(root: Path, target: str) -> tuple[str, str]:
    """``(pointer file, md5)`` of the DVC-tracked folder ``target`` (relative to ``root``):
    ``<target>.dvc`` written by ``dvc add``, else the output ``target`` in ``dvc.lock``."""
    dot_dvc = root / f"{target}.dvc"
    if dot_dvc.is_file():
        data = yaml.safe_load(dot_dvc.read_text()) or {}
        for out in data.get("outs") or []:
            if out.get("path") == Path(target).name and out.get("md5"):
                return dot_dvc.relative_to(root).as_posix(), str(out["md5"])
    lock = root / "dvc.lock"
    if lock.is_file():
        stages = (yaml.safe_load(lock.read_text()) or {}).get("stages") or {}
        for entry in stages.values():
            for out in entry.get("outs") or []:
                if out.get("path") == target and out.get("md5"):
                    return "dvc.lock", str(out["md5"])
    raise InputError(
        f"{root / target}: not tracked by DVC (no {target}.dvc and no output {target} in "
        "dvc.lock): run the release stage (dvc repro) or `dvc add` it, and commit"
    )


def push(root: Path, target: str, remote_cfg: RemoteConfig, url: str, tag: str) -> bool:
    """``dvc push -r <remote> <target>``; True when files were uploaded. :class:`PushFailed`
    (saying whether the remote was unreachable) on failure."""
    from aesformer.storage import dvc

    proc = dvc(["push", "-r", remote_cfg.name, target], root, check=False)
    output = f"{proc.stdout}\n{proc.stderr}"
    if proc.returncode != 0:
        lines = [
            line
            for line in output.strip().splitlines()
            if line.strip() and "dvc.org/support" not in line
        ]
        tail = "\n".join(lines[-4:])
        unreachable = any(m in output.lower() for m in UNREACHABLE_MARKERS)
        where = f"{url}" + (f" at {remote_cfg.endpoint_url}" if remote_cfg.endpoint_url else "")
        what = "is unreachable" if unreachable else "refused the push"
        raise PushFailed(
            f"DVC remote '{remote_cfg.name}' ({where}) {what}: {target} was not pushed.\n"
            f"The local release and the git tag {tag} are kept; run the release again when the "
            f"remote is reachable and it pushes what is missing.\ndvc said: {tail}"
        )
    return "everything is up to date" not in output.lower()


def dataset_source(remote_url: str, dvc_md5: str) -> str:
    """Where the release's DVC directory object lives in the remote (DVC 3 layout
    ``<remote>/files/md5/<2 hex>/<rest>``): the MLflow dataset source."""
    return f"{remote_url.rstrip('/')}/files/md5/{dvc_md5[:2]}/{dvc_md5[2:]}"


# --------------------------------------------------------------------------- git
def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise GitError(f"git {args[0]} failed in {root} (exit {proc.returncode}): {' '.join(tail)}")
    return proc


def _check_committed(root: Path, target: str, pointer: str) -> None:
    from aesformer.storage import dvc

    status = dvc(["status", "--json", target], root, check=False)
    try:
        changed = json.loads(status.stdout or "{}") if status.returncode == 0 else None
    except json.JSONDecodeError:
        changed = None
    if changed is None or changed:
        raise InputError(
            f"{root / target}: the data differs from its DVC pointer {pointer} "
            f"(dvc status: {(status.stdout or status.stderr).strip()[:300]}); run `dvc commit "
            f"{target}` (or dvc repro) and commit {pointer} before releasing"
        )
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", pointer], cwd=root, capture_output=True, text=True
    )
    dirty = _git(root, "status", "--porcelain", "--", pointer).stdout.strip()
    if tracked.returncode != 0 or dirty:
        raise InputError(
            f"{root / pointer}: not committed; commit it (git add {pointer} && git commit) so "
            f"the release tag points at a commit that pulls this data"
        )


def _tag_message(record: dict[str, Any]) -> str:
    return f"AesRecon data release {record['version']}\n\n{json.dumps(record, sort_keys=True)}\n"


def read_tag(root: Path, tag: str) -> dict[str, Any] | None:
    """The release record of ``tag`` (the JSON in its message); None when the tag does not
    exist; ``{}`` for a tag that is not a release record (its digest then never matches)."""
    found = _git(root, "tag", "-l", tag).stdout.strip()
    if not found:
        return None
    contents = _git(root, "tag", "-l", "--format=%(contents)", tag).stdout
    start, end = contents.find("{"), contents.rfind("}")
    try:
        return json.loads(contents[start : end + 1]) if 0 <= start < end else {}
    except json.JSONDecodeError:
        return {}


def releases(root: Path, cfg: ReleaseConfig | None = None) -> dict[str, dict[str, Any]]:
    """Every release record in the repo's tags: ``{version: record}``."""
    cfg = cfg or ReleaseConfig()
    names = _git(Path(root), "tag", "-l", f"{cfg.tag_prefix}*").stdout.split()
    out = {}
    for name in names:
        record = read_tag(Path(root), name)
        if record and "version" in record:
            out[record["version"]] = record
    return out


def find_version(root: Path, digest: str, cfg: ReleaseConfig | None = None) -> str | None:
    """The released version whose data has ``digest`` (the highest tag name if several)."""
    matches = sorted(v for v, r in releases(root, cfg).items() if r.get("digest") == digest)
    return matches[-1] if matches else None


# --------------------------------------------------------------------------- MLflow
def log_release(
    root: Path,
    release_dir: Path,
    version: str,
    digest: str,
    name: str,
    source: str,
    tracking_cfg: TrackingConfig,
    cfg: ReleaseConfig,
    tag: str,
    dvc_md5: str,
) -> tuple[str | None, bool]:
    """Log the release as an MLflow dataset input (context ``release``) unless a finished run
    of this version and digest exists; returns ``(run id, logged now)``."""
    if not tracking_cfg.enabled:
        return None, False
    import mlflow

    from aesformer.tracking import resolve_tracking_uri, stage_run, use_tracking_uri

    use_tracking_uri(resolve_tracking_uri(tracking_cfg, root))
    experiment = mlflow.get_experiment_by_name(tracking_cfg.experiment)
    if experiment is not None:
        found = mlflow.search_runs(
            [experiment.experiment_id],
            filter_string=(
                f"tags.`aesformer.release.version` = '{version}' and "
                f"tags.`aesformer.release.digest` = '{digest}' and attributes.status = 'FINISHED'"
            ),
            output_format="list",
        )
        if found:
            return found[0].info.run_id, False
    tags = {
        "aesformer.release.version": version,
        "aesformer.release.digest": digest,
        "aesformer.release.tag": tag,
        "aesformer.release.dvc_md5": dvc_md5,
    }
    with stage_run("release", tracking_cfg, cfg, root=root, extra_tags=tags) as run:
        frame = read_manifest(release_dir)
        mlflow.log_input(_dataset(frame, source, name, digest), context="release")
        mlflow.log_metrics(
            {
                "pairs": float(len(frame)),
                **{f"pairs_{s}": float((frame["split"] == s).sum()) for s in layout.SPLITS},
            }
        )
        return run.info.run_id, True


def _dataset(frame: Any, source: str, name: str, digest: str) -> Any:
    import warnings

    import mlflow.data

    with warnings.catch_warnings():  # schema-inference hints about int columns, source guessing
        warnings.simplefilter("ignore", UserWarning)
        return mlflow.data.from_pandas(frame, source=source, name=name, digest=digest)


def log_release_input(
    root: Path, release_dir: Path, context: str = "training", cfg: ReleaseConfig | None = None
) -> str:
    """Log the release ``release_dir`` as a dataset input of the active MLflow run (what a
    training stage calls); the same name, digest and source as its release. Returns the
    digest. An unreleased folder is logged as ``<dataset_name>-unreleased``, source its path."""
    import mlflow

    cfg = cfg or ReleaseConfig()
    release_dir = Path(release_dir)
    digest = release_digest(release_dir)
    version = find_version(Path(root), digest, cfg)
    record = releases(Path(root), cfg).get(version or "", {})
    name = f"{cfg.dataset_name}-{version or 'unreleased'}"
    source = record.get("source") or str(release_dir.resolve())
    if mlflow.active_run() is not None:
        mlflow.log_input(_dataset(read_manifest(release_dir), source, name, digest), context)
    return digest


__all__ = [
    "VERSION_RE",
    "GitError",
    "PublishResult",
    "PushFailed",
    "VersionExists",
    "check_version",
    "dataset_source",
    "dvc_pointer",
    "find_version",
    "log_release",
    "log_release_input",
    "publish",
    "push",
    "read_tag",
    "releases",
]
