"""Session-wide test environment: offline, telemetry off, Prefect/MLflow state in temp folders."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports prefect or mlflow: isolate their state from the developer's.
_STATE = Path(tempfile.mkdtemp(prefix="aesformer-tests-"))
os.environ["PREFECT_HOME"] = str(_STATE / "prefect")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)

REPO = Path(__file__).resolve().parents[1]


import logging  # noqa: E402
import sys  # noqa: E402

import prefect.main  # noqa: E402,F401  (Prefect sets up its log handlers now, on a stream that lives all session)
import pytest  # noqa: E402


def _repair_closed_log_streams() -> list[str]:
    """Point every log handler whose stream was closed at the live ``sys.stderr``.

    A handler created while a test's ``capsys``/``capfd`` (or Click's runner) had replaced
    ``sys.stderr`` keeps that stream after the test closed it. Prefect's rich console handler
    then fails on every record, its error path logs again, and an unrelated later test in the
    same process dies of ``RecursionError`` (seen with pytest-xdist, where which test first
    sets up logging depends on the files a worker ran before)."""
    repaired = []
    loggers = [logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and getattr(stream, "closed", False):
                handler.setStream(sys.stderr)
                console = getattr(handler, "console", None)  # prefect's PrefectConsoleHandler
                if console is not None:
                    console.file = sys.stderr
                repaired.append(f"{logger.name}: {type(handler).__name__}")
    return repaired


@pytest.fixture(autouse=True)
def _live_log_streams():
    _repair_closed_log_streams()
    yield
    _repair_closed_log_streams()


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri():
    """mlflow.set_tracking_uri() exports MLFLOW_TRACKING_URI; a test that calls it directly must
    not redirect the next test's runs (the project's own code uses tracking.use_tracking_uri)."""
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(scope="session")
def prefect_server():
    """One real Prefect server (temporary, SQLite) for the whole session, stopped cleanly."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


#: The longest test files (minutes each; `--durations` in every run shows them), collected
#: first: `make test` hands whole files to its two pytest-xdist workers in collection order, so
#: starting these early lets both workers finish together instead of one waiting on the last.
LONG_FIRST = (
    "tests/integration/test_pipeline_flow.py",
    "tests/integration/test_deployments.py",
    "tests/integration/test_security.py",
    "tests/integration/test_faults.py",
)


def pytest_collection_modifyitems(items):
    rank = {path: i for i, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable
