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
