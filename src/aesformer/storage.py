"""Storage helpers: the DVC remote defined in params, and DVC commands run as subprocesses.

The DVC command line is the stable interface (its Python API is internal), so every DVC
action here is a ``python -m dvc ...`` subprocess of the current interpreter.

The remote is written into ``.dvc/config.local`` (git-ignored): params.yaml stays the one
place a remote is defined, and a deployment's checkout gets its own without touching git.
Credentials are never written: DVC (boto3) reads ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` or the named AWS profile from the environment.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from aesformer.config import RemoteConfig
from aesformer.errors import AesformerError

log = logging.getLogger(__name__)


class DvcError(AesformerError):
    """A DVC command failed; the message carries its last output lines."""


def dvc(args: Sequence[str], root: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``dvc <args>`` in ``root`` with this interpreter; raise :class:`DvcError` on failure."""
    cmd = [sys.executable, "-m", "dvc", *args]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise DvcError(f"dvc {' '.join(args)} failed in {root} (exit {proc.returncode}): {tail}")
    return proc


def remote_url(cfg: RemoteConfig, root: Path) -> str:
    """S3 URLs pass through; a folder is made absolute (relative to the project root)."""
    if "://" in cfg.url:
        return cfg.url
    return str((root / cfg.url).resolve())


def configure_dvc_remote(cfg: RemoteConfig, root: Path) -> str:
    """Write ``cfg`` as the default DVC remote in ``.dvc/config.local``; return its URL."""
    url = remote_url(cfg, root)
    if not cfg.is_s3 and "://" not in cfg.url:
        Path(url).mkdir(parents=True, exist_ok=True)
    dvc(["remote", "add", "--local", "--force", "--default", cfg.name, url], root)
    options = {"endpointurl": cfg.endpoint_url, "region": cfg.region, "profile": cfg.profile}
    for key, value in options.items():
        if value is not None:
            dvc(["remote", "modify", "--local", cfg.name, key, value], root)
        else:
            dvc(["remote", "modify", "--local", "--unset", cfg.name, key], root, check=False)
    log.info("DVC remote %s -> %s", cfg.name, url)
    return url
