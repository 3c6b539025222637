"""The data-quality gate (Great Expectations) run on a split folder before any release.

Public API::

    run_gate(cfg, split_dir, docs_dir, quarantine_root) -> GateResult   # raises GateFailed
    GateResult, GateFailed, FailedExpectation, quarantine(candidate, root) -> Path

Importing this package is cheap; Great Expectations is imported when the gate runs.
"""

from aesformer.quality.gate import (
    FailedExpectation,
    GateFailed,
    GateResult,
    quarantine,
    run_gate,
)

__all__ = ["FailedExpectation", "GateFailed", "GateResult", "quarantine", "run_gate"]
