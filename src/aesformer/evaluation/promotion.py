"""Promotion of an (AesThinker, AesEditor) pair to the ``staging`` aliases, by the metrics.

The policy (``promote.rules`` in params) is a list of rules, one per eval metric; every rule
must pass:

- with a pair in staging: ``candidate − staging ≥ margin`` (in the metric's direction; a
  negative margin tolerates a drop of that size);
- always: ``candidate ≥ minimum`` (``≤`` when lower is better) when a minimum is set;
- a metric the candidate lacks fails its rule, unless the rule is ``required: false`` (then it
  is skipped and the decision says so); a metric staging lacks is compared to nothing: only
  the minimum applies.

:func:`decide` is pure. :func:`promote` applies a decision in the MLflow registry: it moves the
``staging`` alias of both models together (aliases, not the deprecated stages) and records on
every candidate version, promoted or refused, the decision, the reasons, the metrics
(``eval.<metric>``), the release version and the git commit.

MLflow moves one alias at a time, so a promotion is made atomic by a **pair record**: one
registered-model tag on the thinker model (``aesformer.pair.<alias>``, the JSON
``{model: version}`` of both) written in a single call *before* the aliases move. The record is
the commit point; :func:`staging_versions` (and every reader of ``@staging``: eval,
``aesformer reconstruct``, ``aesformer compose``) refuses aliases that disagree with it, so an
interrupted promotion never serves a mixed pair, and re-running the same promotion finishes
moving the aliases (:attr:`Decision.resumed`). A refused promotion's message
says which metric failed and by how much. :func:`promote_to_production` is the separate,
explicit step; it requires the version to hold the staging alias.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aesformer.config import PromoteConfig, PromotionRule
from aesformer.errors import AesformerError

log = logging.getLogger(__name__)


class PromotionError(AesformerError):
    """A promotion request that cannot be carried out (unknown version, not in staging...)."""


@dataclass(frozen=True)
class Check:
    """One rule applied to one candidate."""

    metric: str
    candidate: float | None
    staging: float | None
    required: float | None  # the value the candidate had to reach (None: nothing to reach)
    passed: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    first: bool  # nothing was in staging
    checks: list[Check] = field(default_factory=list)
    unchanged: bool = False  # the candidate pair already holds staging: nothing was done
    resumed: bool = False  # an interrupted promotion of this pair was finished (aliases moved)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def message(self) -> str:
        if self.resumed:
            return (
                "resumed: the pair was promoted before but its staging aliases had not all "
                "moved (an interrupted promotion); they hold the pair now"
            )
        if self.unchanged:
            return "unchanged: the pair already holds the staging aliases"
        if self.promote:
            head = "first promotion" if self.first else "better than staging"
            return f"promoted ({head}): " + "; ".join(c.reason for c in self.checks)
        return "refused: " + "; ".join(c.reason for c in self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "first": self.first,
            "unchanged": self.unchanged,
            "resumed": self.resumed,
            "message": self.message(),
            "checks": [c.__dict__ for c in self.checks],
        }


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def check_rule(
    rule: PromotionRule, candidate: Mapping[str, Any], staging: Mapping[str, Any] | None
) -> Check:
    """Apply one rule; the reason names the metric, the values and the gap."""
    name, sign = rule.metric, 1.0 if rule.higher_is_better else -1.0
    better = "≥" if rule.higher_is_better else "≤"
    value = _number(candidate.get(name))
    base = _number(staging.get(name)) if staging is not None else None
    if value is None and not rule.required:
        return Check(name, None, base, None, True, f"{name}: undefined for the candidate, skipped")
    if value is None:
        return Check(name, None, base, None, False, f"{name}: missing in the candidate's metrics")
    problems, required = [], None
    if rule.minimum is not None and sign * (value - rule.minimum) < 0:
        problems.append(
            f"{name} {value:.4g} is not {better} the minimum {rule.minimum:.4g} "
            f"(short by {abs(value - rule.minimum):.4g})"
        )
        required = rule.minimum
    if base is not None:
        target = base + sign * rule.margin
        required = target if required is None else required
        if sign * (value - target) < 0:
            problems.append(
                f"{name} {value:.4g} vs staging {base:.4g}: needs {better} {target:.4g} "
                f"(margin {rule.margin:+.4g}), short by {abs(value - target):.4g}"
            )
    if problems:
        return Check(name, value, base, required, False, "; ".join(problems))
    if base is None:
        return Check(name, value, None, rule.minimum, True, f"{name} {value:.4g}")
    return Check(name, value, base, required, True, f"{name} {value:.4g} vs staging {base:.4g}")


def decide(
    candidate: Mapping[str, Any], staging: Mapping[str, Any] | None, cfg: PromoteConfig
) -> Decision:
    """Whether ``candidate`` may replace ``staging`` (``None``: nothing in staging yet)."""
    checks = [check_rule(rule, candidate, staging) for rule in cfg.rules]
    return Decision(all(c.passed for c in checks), staging is None, checks)


# ------------------------------------------------------------------ the registry
def pair_record_key(cfg: PromoteConfig) -> str:
    """The thinker model's tag holding the promoted pair of alias ``cfg.staging_alias``."""
    return f"aesformer.pair.{cfg.staging_alias}"


def _pair_text(pair: Mapping[str, str] | None) -> str:
    return ", ".join(f"{k}/{v}" for k, v in sorted((pair or {}).items())) or "nothing"


def recorded_pair(client: Any, cfg: PromoteConfig) -> dict[str, str] | None:
    """The pair the last promotion committed to (the pair record), ``None`` if there is none."""
    from mlflow.exceptions import MlflowException

    try:
        tags = client.get_registered_model(cfg.thinker_model).tags or {}
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise _registry_failed(client, exc) from exc
    raw = tags.get(pair_record_key(cfg))
    if not raw:
        return None
    try:
        pair = {str(k): str(v) for k, v in json.loads(raw).items()}
    except (ValueError, AttributeError) as exc:
        raise PromotionError(
            f"model {cfg.thinker_model} tag {pair_record_key(cfg)}: not a pair record ({raw!r})"
        ) from exc
    if set(pair) != {cfg.thinker_model, cfg.editor_model}:
        raise PromotionError(
            f"model {cfg.thinker_model} tag {pair_record_key(cfg)} names {sorted(pair)}, "
            f"not {sorted({cfg.thinker_model, cfg.editor_model})}"
        )
    return pair


def _alias_pair(client: Any, cfg: PromoteConfig) -> dict[str, str]:
    found = {}
    for name in (cfg.thinker_model, cfg.editor_model):
        version = alias_version(client, name, cfg.staging_alias)
        if version is not None:
            found[name] = version
    return found


def staging_versions(client: Any, cfg: PromoteConfig) -> dict[str, str] | None:
    """``{model: version}`` of the pair holding the staging alias, or ``None`` if neither has it.

    A half-set pair (one model only) is an error: staging is always moved for both. Aliases
    that disagree with the pair record are an error too (a promotion was interrupted between
    the two alias moves, or an alias was moved by hand): the mixed pair is never used.
    """
    found = _alias_pair(client, cfg)
    record = recorded_pair(client, cfg)
    if record is not None and found != record:
        raise PromotionError(
            f"the {cfg.staging_alias!r} aliases hold {_pair_text(found)} but the promoted pair "
            f"is {_pair_text(record)} (a promotion was interrupted, or an alias was moved by "
            "hand): re-run the promotion of that pair to finish it, or promote another pair "
            "after moving both aliases back"
        )
    if not found:
        return None
    if len(found) == 1:
        raise PromotionError(
            f"only {next(iter(found))} has the alias {cfg.staging_alias!r}: staging must hold a "
            "pair; set both aliases by hand or promote a pair"
        )
    return found


def resolve_pair(
    client: Any, thinker_uri: str, editor_uri: str, cfg: PromoteConfig
) -> tuple[tuple[str, str], tuple[str, str]]:
    """``((thinker, version), (editor, version))`` the two model URIs point at now. When both
    name the staging alias of the configured models, the pair is read with
    :func:`staging_versions` (so a mixed pair is refused); otherwise each URI on its own."""
    from aesformer.errors import InputError
    from aesformer.evaluation.models import parse_uri, resolve_version

    (t_name, _, t_alias), (e_name, _, e_alias) = parse_uri(thinker_uri), parse_uri(editor_uri)
    staged = t_alias == e_alias == cfg.staging_alias
    if staged and (t_name, e_name) == (cfg.thinker_model, cfg.editor_model):
        pair = staging_versions(client, cfg)
        if pair is None:
            raise InputError(
                f"{thinker_uri}, {editor_uri}: nothing in {cfg.staging_alias} yet (promote a "
                "pair first, or name versions: models:/<name>/<version>)"
            )
        return (t_name, pair[t_name]), (e_name, pair[e_name])
    return resolve_version(client, thinker_uri), resolve_version(client, editor_uri)


#: MLflow error codes that mean "no such model, version or alias" (anything else: the registry
#: failed or is unreachable, which must never read as "nothing in staging").
_ABSENT = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def _registry_failed(client: Any, exc: Exception) -> PromotionError:
    where = getattr(client, "tracking_uri", None) or "the model registry"
    return PromotionError(f"model registry at {where} failed or is unreachable: {exc}")


def alias_version(client: Any, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            return None
        raise _registry_failed(client, exc) from exc


def _require_version(client: Any, name: str, version: str) -> Any:
    """The model version, which must have completed its registration (status ``READY``)."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, str(version))
    except MlflowException as exc:
        if exc.error_code in _ABSENT:
            raise PromotionError(f"model {name} version {version}: not in the registry") from exc
        raise _registry_failed(client, exc) from exc
    status = str(getattr(found, "status", "READY") or "READY")
    if status != "READY":
        raise PromotionError(
            f"model {name} version {version}: registration not complete (status {status}); "
            "only a READY version can be promoted"
        )
    return found


def _tag_all(client: Any, versions: Mapping[str, str], tags: Mapping[str, Any]) -> None:
    for name, version in versions.items():
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, str(value))


def promote(
    client: Any,
    candidate_versions: Mapping[str, str],
    candidate_metrics: Mapping[str, Any],
    staging_metrics: Mapping[str, Any] | None,
    cfg: PromoteConfig,
    *,
    release_version: str,
    git_commit: str,
) -> Decision:
    """Decide and apply: move ``staging`` to the candidate pair, or refuse; tag both ways.

    ``candidate_versions``: ``{thinker_model: v, editor_model: v}``. ``staging_metrics`` are the
    current staging pair's metrics *on the same release* (the eval stage evaluates both); when
    a pair is in staging but no metrics are given, the promotion is refused (it would compare
    against nothing). A version must be READY (registration complete); a registry that fails
    or cannot be reached is a :class:`PromotionError`, never read as "nothing in staging".
    """
    from mlflow.exceptions import MlflowException

    wanted = {cfg.thinker_model, cfg.editor_model}
    if set(candidate_versions) != wanted:
        raise PromotionError(
            f"candidate must name versions of {sorted(wanted)}, got {sorted(candidate_versions)}"
        )
    for name, version in candidate_versions.items():
        _require_version(client, name, version)
    wanted_pair = {k: str(v) for k, v in candidate_versions.items()}
    resumed = _resume(client, wanted_pair, cfg)
    if resumed is not None:
        return resumed
    current = staging_versions(client, cfg)
    if current is not None and {k: str(v) for k, v in candidate_versions.items()} == current:
        log.info("promotion: %s already holds staging", current)
        return Decision(False, False, unchanged=True)
    if current is not None and staging_metrics is None:
        raise PromotionError(
            f"staging holds {current} but no metrics of it on release {release_version} were "
            "given: evaluate the staging pair on the same release first"
        )
    decision = decide(candidate_metrics, staging_metrics if current else None, cfg)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    pair = _pair_text(candidate_versions)
    tags: dict[str, Any] = {
        "promotion.decision": "promoted" if decision.promote else "refused",
        "promotion.message": decision.message()[:4900],
        "promotion.alias": cfg.staging_alias,
        "promotion.release_version": release_version,
        "promotion.git_commit": git_commit,
        "promotion.time": now,
        "promotion.pair": pair,
        "promotion.replaced": _pair_text(current) if current else "none",
    }
    tags.update({f"eval.{k}": v for k, v in candidate_metrics.items() if _number(v) is not None})
    try:
        _tag_all(client, candidate_versions, tags)
        if decision.promote:  # the commit point: one write of the pair record
            client.set_registered_model_tag(
                cfg.thinker_model, pair_record_key(cfg), json.dumps(wanted_pair, sort_keys=True)
            )
    except MlflowException as exc:
        raise PromotionError(
            f"promotion of {pair} not completed: the registry failed before the pair was "
            f"recorded ({exc}); {cfg.staging_alias} is unchanged"
        ) from exc
    if decision.promote:
        _move_aliases(client, wanted_pair, cfg)
    if decision.promote:
        log.info("promotion: %s -> %s (%s)", pair, cfg.staging_alias, decision.message())
    else:
        log.warning("promotion of %s %s", pair, decision.message())
    return decision


def _resume(client: Any, pair: Mapping[str, str], cfg: PromoteConfig) -> Decision | None:
    """Finish an interrupted promotion of ``pair``: it was recorded (the commit point) but its
    aliases did not all move. ``None`` when there is nothing of ``pair`` to finish."""
    if recorded_pair(client, cfg) != pair or _alias_pair(client, cfg) == pair:
        return None
    _move_aliases(client, pair, cfg)
    log.warning("promotion: finished the interrupted promotion of %s", _pair_text(pair))
    return Decision(False, False, unchanged=True, resumed=True)


def _move_aliases(client: Any, pair: Mapping[str, str], cfg: PromoteConfig) -> None:
    """Point ``cfg.staging_alias`` of each model at its version in ``pair`` (recorded already)."""
    from mlflow.exceptions import MlflowException

    moved: list[str] = []
    try:
        for name, version in sorted(pair.items()):
            client.set_registered_model_alias(name, cfg.staging_alias, str(version))
            moved.append(f"{name}/{version}")
    except MlflowException as exc:
        done = f" (moved so far: {', '.join(moved)})" if moved else ""
        raise PromotionError(
            f"promotion of {_pair_text(pair)} recorded but its {cfg.staging_alias} aliases did "
            f"not all move{done}: the registry failed ({exc}). Readers of {cfg.staging_alias} "
            "refuse the mixed pair until the same promotion is run again, which finishes it"
        ) from exc


def promote_to_production(client: Any, name: str, version: str, cfg: PromoteConfig) -> str:
    """Move ``production`` of ``name`` to ``version``, which must hold the staging alias now.
    Returns the version that held production before (or ``"none"``)."""
    _require_version(client, name, version)
    staged = alias_version(client, name, cfg.staging_alias)
    if staged != str(version):
        raise PromotionError(
            f"{name} version {version} is not in {cfg.staging_alias} (it holds "
            f"{staged or 'no version'}): promote it to {cfg.staging_alias} first"
        )
    before = alias_version(client, name, cfg.production_alias) or "none"
    client.set_registered_model_alias(name, cfg.production_alias, str(version))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _tag_all(
        client,
        {name: version},
        {"production.time": now, "production.replaced": before},
    )
    log.info("%s version %s -> %s (was %s)", name, version, cfg.production_alias, before)
    return before


# ------------------------------------------------------------------ the eval report
def read_report(path: Any) -> dict[str, Any]:
    """The eval stage's ``reports/eval/metrics.json`` (schema in docs/data-contracts.md):
    ``release_version``, ``candidate: {versions: {model: version}, metrics: {...}}`` and
    ``staging: {versions, metrics} | null``."""
    import json
    from pathlib import Path

    from aesformer.errors import InputError

    path = Path(path)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: not found (run `dvc repro eval` first)") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc})") from exc
    problems = []
    if not isinstance(report, dict):
        problems.append("not an object")
    else:
        if not isinstance(report.get("release_version"), str):
            problems.append("release_version: missing")
        for key in ("candidate", "staging"):
            part = report.get(key)
            if part is None and key == "staging":
                continue
            if not (
                isinstance(part, dict)
                and isinstance(part.get("versions"), dict)
                and isinstance(part.get("metrics"), dict)
            ):
                problems.append(f"{key}: needs versions and metrics")
    if problems:
        raise InputError(f"{path}: not an eval report: {'; '.join(problems)}")
    return report


def promote_from_report(
    client: Any,
    report: Mapping[str, Any],
    cfg: PromoteConfig,
    *,
    git_commit: str,
    versions: Mapping[str, str] | None = None,
) -> Decision:
    """Promote the candidate pair of an eval report. ``versions`` (if given) must be the pair
    the report evaluated; the staging pair the report compared against must still be the one in
    staging (else the comparison is stale and eval must run again)."""
    evaluated = {k: str(v) for k, v in report["candidate"]["versions"].items()}
    if versions is not None:
        asked = {k: str(v) for k, v in versions.items() if v is not None}
        differ = {k: v for k, v in asked.items() if evaluated.get(k) != v}
        if differ:
            raise PromotionError(
                f"the eval report is for {evaluated}, not {asked}: run eval on these versions"
            )
    resumed = _resume(client, evaluated, cfg)
    if resumed is not None:
        return resumed
    current = staging_versions(client, cfg)
    if current == evaluated:  # promoted already (e.g. a second `make run`): nothing to compare
        log.info("promotion: %s already holds staging", current)
        return Decision(False, False, unchanged=True)
    compared = report.get("staging")
    compared_versions = {k: str(v) for k, v in compared["versions"].items()} if compared else None
    if current != compared_versions:
        raise PromotionError(
            f"the eval report compared against staging {compared_versions or 'none'}, but "
            f"staging now holds {current or 'nothing'}: run eval again"
        )
    return promote(
        client,
        evaluated,
        report["candidate"]["metrics"],
        compared["metrics"] if compared else None,
        cfg,
        release_version=str(report["release_version"]),
        git_commit=git_commit,
    )
