"""Process environment of the embedded default, set by the project itself (not by the user).

``apply_embedded_env`` only fills variables that are unset, so a user or a deployment can
still point Prefect/MLflow elsewhere. It is called by the CLI and the flows at start-up.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

EMBEDDED_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    # the first start of the temporary server creates its database: slow on 2 shared cores
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "GIT_PYTHON_REFRESH": "quiet",
}


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``dvc.yaml``; else cwd."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    return here


def apply_embedded_env(root: Path | None = None) -> dict[str, str]:
    """Fill unset variables of the embedded default; return what was set."""
    root = root or project_root()
    wanted = dict(EMBEDDED_ENV)
    wanted["PREFECT_HOME"] = str(root / ".prefect")
    wanted["PREFECT_LOGGING_LEVEL"] = "INFO"
    applied = {}
    for key, value in wanted.items():
        if key not in os.environ:
            os.environ[key] = value
            applied[key] = value
    return applied


def setup_logging(level: int = logging.INFO) -> None:
    """One log format for every entry point; stderr, so stdout stays for data."""
    root = logging.getLogger()
    if any(getattr(h, "_aesformer", False) for h in root.handlers):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    handler._aesformer = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    noisy = ("alembic", "urllib3", "botocore", "PIL", "matplotlib", "httpx", "filelock")
    for name in (*noisy, "great_expectations"):
        logging.getLogger(name).setLevel(logging.WARNING)
