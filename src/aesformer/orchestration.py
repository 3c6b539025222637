"""Prefect-free helpers the flows use to drive DVC stages (kept here so they are unit-tested).

- :func:`stage_names` reads the stage order from ``dvc.yaml`` (definition order, which is the
  pipeline order by convention, and checked against the DAG: a stage never precedes one of
  its dependencies' producers);
- :func:`repro_stage` runs ``dvc repro --single-item <stage>`` streaming each output line to a
  callback (Prefect's run logger in flows) and raises on failure;
- :func:`stage_outputs` reads a stage's outputs and hashes from ``dvc.lock``;
- :func:`outputs_markdown` renders them as the table published as a Prefect artifact;
- :func:`set_params` changes keys of ``params.yaml`` in place (comments kept), validated first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from aesformer.errors import AesformerError


class StageFailed(AesformerError):
    """``dvc repro`` of one stage exited non-zero."""


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AesformerError(f"{path}: not found")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def stage_names(root: Path) -> list[str]:
    """Stages of ``root/dvc.yaml`` in definition order; raise if the order breaks the DAG."""
    stages: dict[str, Any] = _load_yaml(root / "dvc.yaml").get("stages") or {}
    producer: dict[str, str] = {}
    for name, spec in stages.items():
        for out in spec.get("outs") or []:
            producer[out if isinstance(out, str) else next(iter(out))] = name
    seen: set[str] = set()
    for name, spec in stages.items():
        for dep in spec.get("deps") or []:
            owner = producer.get(dep if isinstance(dep, str) else next(iter(dep)))
            if owner and owner != name and owner not in seen:
                raise AesformerError(
                    f"{root / 'dvc.yaml'}: stage {name!r} is listed before {owner!r}, which produces its dependency {dep!r}"
                )
        seen.add(name)
    return list(stages)


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for stage commands: this interpreter's bin folder first on PATH."""
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def repro_stage(
    root: Path,
    stage: str,
    log_line: Callable[[str], None],
    force: bool = False,
    env: dict[str, str] | None = None,
) -> bool:
    """Run one DVC stage; return True if it ran, False if DVC found it up to date."""
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", stage]
    if force:
        cmd.append("--force")
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=subprocess_env(env),
        bufsize=1,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for raw in proc.stdout:
        line = raw.rstrip()
        if line:
            lines.append(line)
            log_line(line)
    code = proc.wait()
    if code != 0:
        tail = "\n".join(lines[-8:])
        raise StageFailed(f"stage {stage!r} failed (dvc exit {code}):\n{tail}")
    skipped = any("didn't change, skipping" in ln or "is cached - skipping" in ln for ln in lines)
    return not skipped


def stage_outputs(root: Path, stage: str) -> list[dict[str, Any]]:
    """``[{path, md5, size, nfiles}]`` of a stage's outputs as recorded in ``dvc.lock``."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return []
    entry = ((_load_yaml(lock).get("stages") or {}).get(stage)) or {}
    return [
        {
            "path": out["path"],
            "md5": out.get("md5", ""),
            "size": out.get("size"),
            "nfiles": out.get("nfiles", 1),
        }
        for out in entry.get("outs") or []
    ]


def report_pages(root: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """``index.html`` pages at the top of a stage's output folders (e.g. the gate's data docs),
    as absolute paths, so the Prefect artifact can link them."""
    pages = []
    for row in rows:
        page = (root / row["path"] / "index.html").resolve()
        if page.is_file():
            pages.append(page)
    return pages


def outputs_markdown(
    stage: str, rows: list[dict[str, Any]], ran: bool, pages: list[Path] | None = None
) -> str:
    """Markdown table of a stage's outputs (the Prefect artifact's body), then links to the
    report ``pages`` it wrote."""
    state = "ran" if ran else "up to date (skipped by DVC)"
    lines = [
        f"### Stage `{stage}`: {state}",
        "",
        "| output | DVC md5 | size (bytes) | files |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| `{r['path']}` | `{r['md5']}` | {r['size']} | {r['nfiles']} |" for r in rows]
    if not rows:
        lines.append("| (no outputs recorded in dvc.lock) | | | |")
    if pages:
        lines += ["", "Reports:", *(f"- [{p.parent.name}/{p.name}]({p.as_uri()})" for p in pages)]
    return "\n".join(lines)


def set_params(params_file: Path, updates: dict[str, Any]) -> None:
    """Set dotted keys (``{"mine.source": "data/videos"}``) in ``params_file`` in place.

    The file keeps its comments and order (ruamel round trip); the result is validated with
    the project's models before it is written (atomically), so a bad value leaves the file as
    it was and raises :class:`~aesformer.errors.ConfigError` naming the key. DVC then sees the
    change as a params change of the stages that list the key.
    """
    import io

    from ruamel.yaml import YAML

    from aesformer.config import load_params
    from aesformer.fileio import atomic_path

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    data = yaml_rt.load(params_file.read_text(encoding="utf-8"))
    for dotted, value in updates.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            if key not in node:
                raise AesformerError(f"{params_file}: no section {key!r} for {dotted!r}")
            node = node[key]
        node[leaf] = value
    buffer = io.StringIO()
    yaml_rt.dump(data, buffer)
    with atomic_path(params_file) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
        load_params(tmp)  # validate before it replaces the file


def commit_paths(root: Path, paths: list[str], message: str) -> bool:
    """``git add`` the existing ``paths`` and commit them if anything changed; True when a
    commit was made. Used by the release flow to record the pipeline's pointers (``dvc.lock``,
    ``params.yaml``, the ``.gitignore`` files DVC writes) before tagging a release."""
    existing = [p for p in paths if (root / p).exists()]
    if not existing:
        return False

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)

    added = git("add", "--", *existing)
    if added.returncode != 0:
        raise AesformerError(f"{root}: git add failed: {added.stderr.strip()[:300]}")
    if git("diff", "--cached", "--quiet", "--", *existing).returncode == 0:
        return False
    done = git("commit", "-q", "-m", message, "--", *existing)
    if done.returncode != 0:
        raise AesformerError(f"{root}: git commit failed: {done.stderr.strip()[:300]}")
    return True


# --------------------------------------------------------------------------- deployments
# Helpers of the deployment flows (flows/stages.py): named stages, a checkout per flow run,
# and the record that links a Prefect flow run to its MLflow runs, data release and commits.


def select_stages(root: Path, wanted: list[str], ref: str | None = None) -> list[str]:
    """``wanted`` in pipeline order; raise naming the stages ``dvc.yaml`` lacks.

    Deployments name their stages (``train-editor`` runs ``editor``); a stage that is not
    (yet) in ``dvc.yaml`` (of the working tree, or of commit ``ref``) is an error before any
    work starts.
    """
    if not wanted:
        raise AesformerError("no stages given")
    if ref is None:
        order = stage_names(root)
    else:
        spec = yaml.safe_load(git(root, "show", f"{ref}:dvc.yaml")) or {}
        order = list(spec.get("stages") or {})
    missing = [s for s in wanted if s not in order]
    if missing:
        raise AesformerError(
            f"{root / 'dvc.yaml'}: no stage(s) {missing} at this commit; it has {order}"
        )
    return [s for s in order if s in wanted]


def _path_of(entry: Any) -> str:
    return entry if isinstance(entry, str) else next(iter(entry))


def upstream_outputs(root: Path, stages: list[str]) -> list[str]:
    """Outputs of *other* stages that ``stages`` read (a dep equal to or inside an output):
    what a fresh checkout must fetch from the DVC cache/remote before ``stages`` can run."""
    spec: dict[str, Any] = _load_yaml(root / "dvc.yaml").get("stages") or {}
    outs = {_path_of(o).rstrip("/"): name for name, s in spec.items() for o in s.get("outs") or []}
    needed: list[str] = []
    for stage in stages:
        for dep in spec.get(stage, {}).get("deps") or []:
            dep_path = _path_of(dep).rstrip("/")
            for out, producer in outs.items():
                inside = dep_path == out or dep_path.startswith(out + "/")
                if inside and producer not in stages and out not in needed:
                    needed.append(out)
    return needed


def git(root: Path, *args: str) -> str:
    """``git <args>`` in ``root``; stdout stripped; raise with git's message on failure."""
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        raise AesformerError(f"{root}: git {' '.join(args)} failed: {done.stderr.strip()[:300]}")
    return done.stdout.strip()


def open_checkout(source: Path, workdir: Path, name: str, ref: str = "HEAD") -> Path:
    """A ``git worktree`` of ``source`` at ``ref`` in ``workdir/name``, sharing its DVC cache.

    DVC locks a workspace for the length of a ``repro``, so two flow runs never share one: each
    gets its own worktree (cheap: git objects and the DVC cache are shared; only the files of
    the stages' inputs are checked out). The source's git-ignored ``.dvc/config.local`` (the
    remote written by ``aesformer remote apply``) is copied so ``dvc pull``/``push`` work.
    """
    dest = (workdir / name).resolve()
    if dest.exists():
        raise AesformerError(f"{dest}: checkout already exists (another run with this name?)")
    workdir.mkdir(parents=True, exist_ok=True)
    commit = git(source, "rev-parse", "--verify", f"{ref}^{{commit}}")
    git(source, "worktree", "add", "--detach", str(dest), commit)
    local = source / ".dvc" / "config.local"
    if local.is_file():
        (dest / ".dvc" / "config.local").write_text(local.read_text(encoding="utf-8"))
    from aesformer.storage import dvc

    cache = dvc(["cache", "dir"], source).stdout.strip()
    dvc(["cache", "dir", "--local", str(Path(cache).resolve())], dest)
    return dest


def persisted_outputs(root: Path, stages: list[str]) -> list[str]:
    """Outputs of ``stages`` marked ``persist: true`` (checkpoints, per-item caches): restored
    into a fresh checkout so a run resumes or re-uses what the last recorded run left."""
    spec: dict[str, Any] = _load_yaml(root / "dvc.yaml").get("stages") or {}
    return [
        _path_of(out)
        for stage in stages
        for out in spec.get(stage, {}).get("outs") or []
        if isinstance(out, dict) and (next(iter(out.values())) or {}).get("persist")
    ]


def fetch_outputs(
    root: Path, paths: list[str], log_line: Callable[[str], None], required: bool = True
) -> None:
    """Materialise ``paths`` (DVC outputs) in ``root``: from the (shared) cache, else the remote.
    A path that neither has raises, unless not ``required`` (a first run has no checkpoints)."""
    from aesformer.storage import dvc

    for path in paths:
        if dvc(["checkout", path], root, check=False).returncode == 0:
            log_line(f"{path}: checked out from the DVC cache")
        elif required or dvc(["pull", path], root, check=False).returncode == 0:
            if required:
                dvc(["pull", path], root)
            log_line(f"{path}: pulled from the DVC remote")
        else:
            log_line(f"{path}: not in the DVC cache or remote; the stage starts without it")


def stage_outs(root: Path, stages: list[str]) -> list[str]:
    """The output paths ``dvc.yaml`` declares for ``stages``."""
    spec: dict[str, Any] = _load_yaml(root / "dvc.yaml").get("stages") or {}
    return [_path_of(o) for s in stages for o in spec.get(s, {}).get("outs") or []]


def push_outputs(root: Path, stages: list[str], log_line: Callable[[str], None]) -> list[str]:
    """``dvc push`` the outputs of ``stages`` to the default remote; return their paths."""
    from aesformer.storage import dvc

    paths = stage_outs(root, stages)
    if paths:
        dvc(["push", *paths], root)
        log_line(f"dvc push {' '.join(paths)}")
    return paths


def push_branch(root: Path, branch: str) -> None:
    """``git push origin <branch>``: a clone's result commit reaches the shared repository
    (needs write access there: a deploy key or token in the worker's environment)."""
    git(root, "push", "--quiet", "origin", f"{branch}:refs/heads/{branch}")


def close_checkout(source: Path, checkout: Path) -> None:
    """Remove a worktree made by :func:`open_checkout` (its commits stay in ``source``)."""
    git(source, "worktree", "remove", "--force", str(checkout))


def record_checkout(checkout: Path, branch: str, message: str) -> str:
    """Commit ``dvc.lock`` (the hashes of what ran) in ``checkout`` and point ``branch`` at the
    result, so the run's outputs stay reachable after the worktree is removed; return the
    commit (HEAD when nothing changed)."""
    commit_paths(checkout, ["dvc.lock"], message)
    head = git(checkout, "rev-parse", "HEAD")
    git(checkout, "branch", "--force", branch, head)
    return head


def release_of(root: Path) -> dict[str, str]:
    """The data release a checkout trains on: the nearest ``data-v*`` tag (or ``unreleased``)
    and the DVC hash of ``data/release`` in its ``dvc.lock`` (empty before the stage ran)."""
    described = subprocess.run(
        ["git", "describe", "--tags", "--match", "data-v*", "--abbrev=0"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    tag = described.stdout.strip() if described.returncode == 0 else "unreleased"
    md5 = next(
        (r["md5"] for r in stage_outputs(root, "release") if r["path"] == "data/release"), ""
    )
    return {"tag": tag, "md5": md5}


def runs_of_flow_run(tracking_uri: str, experiment: str, flow_run_id: str) -> list[dict[str, str]]:
    """``[{run_id, stage, status}]`` of the MLflow runs tagged with ``prefect.flow_run_id``."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None or not flow_run_id:
        return []
    found = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`prefect.flow_run_id` = '{flow_run_id}'"
    )
    return [
        {
            "run_id": r.info.run_id,
            "stage": r.data.tags.get("aesformer.stage", ""),
            "status": r.info.status,
        }
        for r in found
    ]


def tag_runs(tracking_uri: str, run_ids: list[str], tags: dict[str, str]) -> None:
    """Set ``tags`` on MLflow runs (the other half of the Prefect ↔ MLflow link)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    for run_id in run_ids:
        for key, value in tags.items():
            client.set_tag(run_id, key, value)


def lineage_markdown(record: dict[str, Any]) -> str:
    """The Prefect artifact of a deployment run: flow run ↔ MLflow runs ↔ release ↔ commits."""
    lines = [
        f"### Lineage of flow run `{record['flow_run_id']}`",
        "",
        "| what | value |",
        "|---|---|",
        f"| stages | {', '.join(f'`{s}`' for s in record['stages'])} |",
        f"| git commit (code) | `{record['source_commit']}` |",
        f"| git commit (dvc.lock after the run) | `{record['result_commit']}` |",
        f"| result branch | `{record.get('branch') or '(run in place)'}` |",
        f"| data release | `{record['release']['tag']}` (data/release md5 `{record['release']['md5']}`) |",
        f"| MLflow | `{record['tracking_uri']}` |",
        "",
        "| MLflow run | stage | status |",
        "|---|---|---|",
    ]
    lines += [f"| `{r['run_id']}` | {r['stage']} | {r['status']} |" for r in record["runs"]]
    if not record["runs"]:
        lines.append("| (no MLflow run: every stage was up to date) | | |")
    return "\n".join(lines)
