"""The data-quality gate: a Great Expectations checkpoint over a split folder, run before any
release (``docs/datasets.md#data-quality-gate``).

:func:`run_gate` builds the gate's table (:mod:`.frame`), validates it with the suite of
:mod:`.suite` through a GX Core ephemeral context (pandas data source, dataframe asset, batch
definition, validation definition, checkpoint) whose ``UpdateDataDocsAction`` writes HTML data
docs into ``docs_dir``. A pass returns a :class:`GateResult`; a failure moves the candidate
folder to ``quarantine_root/<id>/`` (renamed, nothing deleted), writes the summary there and
raises :class:`GateFailed` whose message names every failed expectation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aesformer.config import GateConfig
from aesformer.errors import AesformerError, InputError, OutputError
from aesformer.fileio import ensure_dir, sha256_file, write_text

log = logging.getLogger("aesformer.quality")
SITE_NAME = "aesformer_gate"
#: Row identifiers shown for failing rows (line of pairs.jsonl, pair id).
INDEX_COLUMNS = ["line", "pair_id"]
SUMMARY_FILE = "gate_summary.txt"
RESULT_FILE = "gate_result.json"
EXAMPLES = 5


@dataclass(frozen=True)
class FailedExpectation:
    """One failed expectation, as the summary shows it."""

    expectation: str  # e.g. expect_column_values_to_be_between
    column: str | None
    check: str  # meta.check: what it guards
    threshold: str | None  # params key(s) that set it
    observed: str  # observed value / unexpected count / exception
    examples: list[dict[str, Any]] = field(default_factory=list)  # failing rows (line, pair_id)

    def line(self) -> str:
        where = f" column={self.column}" if self.column else ""
        key = f" [{self.threshold}]" if self.threshold else ""
        rows = ""
        if self.examples:
            shown = ", ".join(
                "line {}{}".format(e.get("line"), f" ({e['pair_id']})" if e.get("pair_id") else "")
                for e in self.examples
            )
            rows = f"; rows: {shown}"
        return f"{self.expectation}{where}: {self.check}{key}: {self.observed}{rows}"


@dataclass
class GateResult:
    """Outcome of :func:`run_gate`."""

    success: bool
    candidate: Path  # the split folder as given
    rows: int
    evaluated: int
    failed: list[FailedExpectation]
    docs_index: Path | None  # data docs index.html (inside the quarantine when moved with it)
    quarantine: Path | None = None
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        """Readable summary: a headline, then one line per failed expectation."""
        head = (
            f"data-quality gate {'passed' if self.success else 'FAILED'} for {self.candidate}: "
            f"{self.evaluated - len(self.failed)} of {self.evaluated} expectations met "
            f"on {self.rows} pairs"
        )
        lines = [head, *(f"  - {f.line()}" for f in self.failed)]
        if self.quarantine is not None:
            lines.append(f"candidate moved to {self.quarantine} (nothing deleted)")
        if self.docs_index is not None:
            lines.append(f"data docs: {self.docs_index}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "candidate": str(self.candidate),
            "rows": self.rows,
            "evaluated": self.evaluated,
            "failed": [asdict(f) for f in self.failed],
            "docs_index": str(self.docs_index) if self.docs_index else None,
            "quarantine": str(self.quarantine) if self.quarantine else None,
            "seconds": self.seconds,
        }


class GateFailed(AesformerError):
    """The candidate failed the gate; the message is the summary, ``result`` the details."""

    def __init__(self, result: GateResult) -> None:
        super().__init__(result.summary)
        self.result = result


def run_gate(cfg: GateConfig, split_dir: Path, docs_dir: Path, quarantine_root: Path) -> GateResult:
    """Validate ``split_dir`` (a ``split`` output folder); see the module docstring.

    Writes ``docs_dir/index.html`` (+ pages) and ``docs_dir/gate_result.json`` either way.
    Raises :class:`GateFailed` after quarantining a failing candidate, :class:`InputError` when
    ``split_dir`` is not a folder.
    """
    start = time.perf_counter()
    split_dir, docs_dir, quarantine_root = Path(split_dir), Path(docs_dir), Path(quarantine_root)
    if not split_dir.is_dir():
        raise InputError(f"{split_dir}: not a folder (run split first)")
    from aesformer.quality.frame import build_frame  # pandas + image decoding

    frame = build_frame(split_dir, cfg)
    ensure_dir(docs_dir)
    validation = _validate(frame, cfg, docs_dir.resolve())
    failed = [_failure(r) for r in validation.results if not r.success]
    index = docs_dir / "index.html"
    result = GateResult(
        success=not failed,
        candidate=split_dir,
        rows=len(frame),
        evaluated=len(validation.results),
        failed=failed,
        docs_index=index if index.is_file() else None,
    )
    if not result.success:
        result.quarantine = quarantine(split_dir, quarantine_root)
        if result.docs_index is not None and docs_dir.resolve().is_relative_to(split_dir.resolve()):
            moved = result.quarantine / docs_dir.resolve().relative_to(split_dir.resolve())
            result.docs_index = moved / "index.html"
            docs_dir = moved
    result.seconds = round(time.perf_counter() - start, 3)
    payload = json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
    write_text(docs_dir / RESULT_FILE, payload)
    if result.quarantine is None:
        log.info("%s", result.summary)
        return result
    write_text(result.quarantine / SUMMARY_FILE, result.summary + "\n")
    write_text(result.quarantine / RESULT_FILE, payload)
    log.error("%s", result.summary)
    raise GateFailed(result)


def quarantine(candidate: Path, quarantine_root: Path) -> Path:
    """Move ``candidate`` to ``quarantine_root/<UTC timestamp>-<8 hex>/`` and return that path.

    The hex digits hash the candidate's ``pairs.jsonl`` (or its name when there is none).
    A rename within one file system; otherwise a copy then removal of the source
    (:func:`shutil.move`): the content is never dropped.
    """
    pairs = candidate / "pairs.jsonl"
    digest = (
        sha256_file(pairs)
        if pairs.is_file()
        else hashlib.sha256(str(candidate.resolve()).encode()).hexdigest()
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    ensure_dir(quarantine_root)
    target = quarantine_root / f"{stamp}-{digest[:8]}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = quarantine_root / f"{stamp}-{digest[:8]}-{suffix}"
    try:
        shutil.move(str(candidate), str(target))
    except OSError as exc:
        raise OutputError(
            f"{candidate}: cannot move to quarantine {target} ({exc.strerror or exc})"
        ) from None
    return target


def _validate(frame: Any, cfg: GateConfig, docs_dir: Path) -> Any:
    """Run the checkpoint on ``frame``; the one ``ExpectationSuiteValidationResult``."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"  # before great_expectations is imported
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from aesformer.quality.suite import build_suite

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        site_name=SITE_NAME,
        site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir),
            },
        },
    )
    batch = (
        context.data_sources.add_pandas("split_candidate")
        .add_dataframe_asset("pairs")
        .add_batch_definition_whole_dataframe("all_pairs")
    )
    suite = context.suites.add(build_suite(cfg))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="pairs_gate", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="release_gate",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])],
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": INDEX_COLUMNS,
            },
        )
    )
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    (validation,) = run.run_results.values()
    return validation


def _failure(result: Any) -> FailedExpectation:
    config = result.expectation_config
    kwargs = config.kwargs
    meta = config.meta or {}
    details = result.result or {}
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        observed = f"error: {exception.get('exception_message')}"
    elif "unexpected_count" in details:
        count = details.get("unexpected_count")
        share = details.get("unexpected_percent")
        values = details.get("partial_unexpected_list") or []
        observed = f"{count} unexpected" + (f" ({share:.1f}%)" if share is not None else "")
        if values:
            observed += f", e.g. {_short(values[:EXAMPLES])}"
    elif details.get("partial_missing_list"):  # distinct values: what is absent
        observed = f"missing {_short(details['partial_missing_list'])}"
    elif isinstance(details.get("details"), dict) and details["details"].get("mismatched"):
        observed = f"mismatched columns {_short(details['details']['mismatched'])}"
    elif "observed_value" in details:
        observed = f"observed {_short(details['observed_value'])}"
    else:
        observed = _short(details) if details else "failed"
    examples = [
        {k: _plain(v) for k, v in row.items() if k in INDEX_COLUMNS}
        for row in (details.get("unexpected_index_list") or [])[:EXAMPLES]
        if isinstance(row, dict)
    ]
    return FailedExpectation(
        expectation=config.type,
        column=kwargs.get("column"),
        check=str(meta.get("check", config.type)),
        threshold=meta.get("threshold"),
        observed=observed,
        examples=examples,
    )


def _plain(value: Any) -> Any:
    """numpy scalars -> Python (JSON-friendly)."""
    return value.item() if hasattr(value, "item") else value


def _short(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["FailedExpectation", "GateFailed", "GateResult", "quarantine", "run_gate"]
