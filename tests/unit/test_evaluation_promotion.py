"""Promotion rules (pure) and the alias moves in a real MLflow registry (SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from aesformer.config import PromoteConfig, PromotionRule
from aesformer.evaluation.promotion import (
    PromotionError,
    alias_version,
    decide,
    promote,
    promote_from_report,
    promote_to_production,
    recorded_pair,
    resolve_pair,
    staging_versions,
)
from tests.unit.test_cli import REPO, assert_one_line_error, cli

pytestmark = pytest.mark.unit
CFG = PromoteConfig()
GOOD = {"aesthetic": 0.60, "identity": 0.90, "scene_inliers": 0.50, "plan_format_validity": 1.0}


def test_better_candidate_passes_every_rule():
    better = {**GOOD, "aesthetic": 0.62, "identity": 0.89}  # identity: a drop within -0.02
    decision = decide(better, GOOD, CFG)
    assert decision.promote and not decision.first
    assert decision.message().startswith("promoted (better than staging)")


def test_worse_candidate_is_refused_naming_the_metric_and_the_gap():
    worse = {**GOOD, "aesthetic": 0.55}
    decision = decide(worse, GOOD, CFG)
    assert not decision.promote
    (failed,) = decision.failed
    assert failed.metric == "aesthetic" and failed.required == pytest.approx(0.60)
    assert "aesthetic 0.55 vs staging 0.6: needs ≥ 0.6 (margin +0), short by 0.05" in (
        decision.message()
    )


def test_first_promotion_checks_only_minimums_and_missing_metrics():
    assert decide(GOOD, None, CFG).promote and decide(GOOD, None, CFG).first
    low = decide({**GOOD, "plan_format_validity": 0.3}, None, CFG)
    assert not low.promote and "is not ≥ the minimum 0.5 (short by 0.2)" in low.message()
    missing = decide({k: v for k, v in GOOD.items() if k != "scene_inliers"}, None, CFG)
    assert not missing.promote and "scene_inliers: missing" in missing.message()
    no_face = decide({k: v for k, v in GOOD.items() if k != "identity"}, None, CFG)
    assert no_face.promote and "identity: undefined for the candidate, skipped" in no_face.message()


def test_a_rule_that_is_not_required_is_skipped_when_undefined():
    cfg = PromoteConfig(
        rules=[PromotionRule(metric="identity", required=False), PromotionRule(metric="aesthetic")]
    )
    decision = decide({"aesthetic": 0.5}, None, cfg)
    assert (
        decision.promote and "identity: undefined for the candidate, skipped" in decision.message()
    )
    assert not decide({"identity": 0.9}, None, cfg).promote  # aesthetic is required


def test_lower_is_better_rules():
    cfg = PromoteConfig(
        rules=[PromotionRule(metric="lpips", higher_is_better=False, margin=0.01, minimum=0.5)]
    )
    assert decide({"lpips": 0.20}, {"lpips": 0.25}, cfg).promote
    refused = decide({"lpips": 0.245}, {"lpips": 0.25}, cfg)
    assert not refused.promote and "needs ≤ 0.24" in refused.message()
    assert not decide({"lpips": 0.6}, None, cfg).promote


def test_rules_must_name_distinct_metrics():
    with pytest.raises(ValueError, match="more than one rule"):
        PromoteConfig(rules=[PromotionRule(metric="a"), PromotionRule(metric="a")])


@pytest.fixture
def client(tmp_path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlruns.db")
    for name in ("aesthinker", "aeseditor"):
        client.create_registered_model(name)
        for _ in range(3):
            client.create_model_version(name, source=str(tmp_path / name), run_id=None)
    return client


def pair(thinker: str, editor: str) -> dict[str, str]:
    return {"aesthinker": thinker, "aeseditor": editor}


def test_first_then_better_then_worse_in_the_registry(client):
    first = promote(
        client, pair("1", "1"), GOOD, None, CFG, release_version="1.0.0", git_commit="abc"
    )
    assert first.promote and first.first
    assert alias_version(client, "aesthinker", "staging") == "1"
    assert alias_version(client, "aeseditor", "staging") == "1"
    tags = client.get_model_version("aesthinker", "1").tags
    assert tags["promotion.decision"] == "promoted" and tags["promotion.release_version"] == "1.0.0"
    assert tags["promotion.git_commit"] == "abc" and tags["eval.aesthetic"] == "0.6"

    # staging exists: its metrics on the same release are required
    with pytest.raises(PromotionError, match="evaluate the staging pair on the same release"):
        promote(client, pair("2", "2"), GOOD, None, CFG, release_version="1.0.0", git_commit="d")

    better = {**GOOD, "aesthetic": 0.7}
    moved = promote(
        client, pair("2", "1"), better, GOOD, CFG, release_version="1.0.0", git_commit="d"
    )
    assert moved.promote and alias_version(client, "aesthinker", "staging") == "2"
    assert client.get_model_version("aesthinker", "2").tags["promotion.replaced"] == (
        "aeseditor/1, aesthinker/1"
    )

    worse = {**better, "scene_inliers": 0.40}
    refused = promote(
        client, pair("3", "3"), worse, better, CFG, release_version="1.0.0", git_commit="e"
    )
    assert not refused.promote
    assert alias_version(client, "aesthinker", "staging") == "2"  # nothing moved
    assert alias_version(client, "aeseditor", "staging") == "1"
    tags = client.get_model_version("aeseditor", "3").tags
    assert (
        tags["promotion.decision"] == "refused" and "scene_inliers 0.4" in tags["promotion.message"]
    )

    again = promote(
        client, pair("2", "1"), better, better, CFG, release_version="1.0.0", git_commit="f"
    )
    assert again.unchanged and not again.promote


def test_unknown_versions_and_half_pairs_are_errors(client):
    with pytest.raises(PromotionError, match="aesthinker version 9: not in the registry"):
        promote(client, pair("9", "1"), GOOD, None, CFG, release_version="1", git_commit="a")
    with pytest.raises(PromotionError, match="must name versions of"):
        promote(client, {"aesthinker": "1"}, GOOD, None, CFG, release_version="1", git_commit="a")
    client.set_registered_model_alias("aesthinker", "staging", "1")
    with pytest.raises(PromotionError, match="only aesthinker has the alias 'staging'"):
        promote(client, pair("2", "2"), GOOD, GOOD, CFG, release_version="1", git_commit="a")


class FailingAt:
    """The real client, whose ``method`` raises the registry's error on its ``nth`` call (the
    registry going away between two writes of one promotion)."""

    def __init__(self, client: MlflowClient, method: str, nth: int) -> None:
        self.client, self.method, self.nth, self.calls = client, method, nth, 0

    def __getattr__(self, name: str):
        real = getattr(self.client, name)
        if name != self.method:
            return real

        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.nth:
                from mlflow.exceptions import MlflowException

                raise MlflowException("registry unreachable", error_code="INTERNAL_ERROR")
            return real(*args, **kwargs)

        return call


STAGED = ("models:/aesthinker@staging", "models:/aeseditor@staging")


def test_interrupted_promotion_is_never_read_as_a_pair_and_a_rerun_finishes_it(client):
    promote(client, pair("1", "1"), GOOD, None, CFG, release_version="1", git_commit="a")
    assert recorded_pair(client, CFG) == pair("1", "1")
    better = {**GOOD, "aesthetic": 0.7}
    # the second alias move fails: one alias moved, the other not
    faulty = FailingAt(client, "set_registered_model_alias", 2)
    with pytest.raises(PromotionError, match=r"recorded but its staging aliases did not all move"):
        promote(faulty, pair("2", "2"), better, GOOD, CFG, release_version="1", git_commit="b")
    moved = {n: alias_version(client, n, "staging") for n in ("aesthinker", "aeseditor")}
    assert sorted(moved.values()) == ["1", "2"]  # really mixed in the registry
    assert recorded_pair(client, CFG) == pair("2", "2")
    # no reader takes the mixed pair: eval's staging lookup, reconstruct / compose defaults
    with pytest.raises(PromotionError, match="a promotion was interrupted"):
        staging_versions(client, CFG)
    with pytest.raises(PromotionError, match="promoted pair is aeseditor/2, aesthinker/2"):
        resolve_pair(client, *STAGED, CFG)
    # explicit versions still resolve; another candidate must wait for the pair to be finished
    assert resolve_pair(client, "models:/aesthinker/1", "models:/aeseditor/3", CFG) == (
        ("aesthinker", "1"),
        ("aeseditor", "3"),
    )
    with pytest.raises(PromotionError, match="a promotion was interrupted"):
        promote(client, pair("3", "3"), better, GOOD, CFG, release_version="1", git_commit="c")
    # the same promotion again (here from its eval report, as `make run` does) finishes it
    # without deciding again
    evaluated = report(pair("2", "2"), better, GOOD, staged=pair("1", "1"))
    resumed = promote_from_report(client, evaluated, CFG, git_commit="b")
    assert resumed.resumed and not resumed.promote and "resumed" in resumed.message()
    assert staging_versions(client, CFG) == pair("2", "2")
    assert resolve_pair(client, *STAGED, CFG) == (("aesthinker", "2"), ("aeseditor", "2"))
    again = promote(client, pair("2", "2"), {}, None, CFG, release_version="1", git_commit="b")
    assert again.unchanged and not again.resumed


def test_a_registry_failure_before_the_pair_record_leaves_staging_as_it_was(client):
    promote(client, pair("1", "1"), GOOD, None, CFG, release_version="1", git_commit="a")
    faulty = FailingAt(client, "set_registered_model_tag", 1)
    with pytest.raises(PromotionError, match="before the pair was recorded.*staging is unchanged"):
        promote(
            faulty, pair("2", "2"), {**GOOD, "aesthetic": 0.7}, GOOD, CFG,
            release_version="1", git_commit="b",
        )  # fmt: skip
    assert staging_versions(client, CFG) == pair("1", "1") == recorded_pair(client, CFG)


def test_aliases_without_a_pair_record_still_read_as_a_pair(client):
    """Aliases set by hand (or before pair records existed): read as they are."""
    for name in ("aesthinker", "aeseditor"):
        client.set_registered_model_alias(name, "staging", "2")
    assert recorded_pair(client, CFG) is None
    assert staging_versions(client, CFG) == pair("2", "2")
    client.set_registered_model_tag("aesthinker", "aesformer.pair.staging", "not json")
    with pytest.raises(PromotionError, match="not a pair record"):
        staging_versions(client, CFG)


def test_production_requires_staging(client):
    with pytest.raises(PromotionError, match="not in staging"):
        promote_to_production(client, "aesthinker", "1", CFG)
    promote(client, pair("1", "1"), GOOD, None, CFG, release_version="1", git_commit="a")
    assert promote_to_production(client, "aesthinker", "1", CFG) == "none"
    assert alias_version(client, "aesthinker", "production") == "1"
    assert "production.time" in client.get_model_version("aesthinker", "1").tags
    with pytest.raises(PromotionError, match="version 2 is not in staging"):
        promote_to_production(client, "aesthinker", "2", CFG)


# ------------------------------------------------------------------ the command line
def project(tmp_path, client_db: str) -> Path:
    """A folder the CLI takes for a project: params.yaml (tracking at ``client_db``) + dvc.yaml."""
    import yaml

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tracking"]["tracking_uri"] = client_db
    root = tmp_path / "proj"
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "dvc.yaml").write_text("stages: {}\n")
    return root


def report(candidate: dict, metrics: dict, staging: dict | None = None, staged=None) -> dict:
    return {
        "release_version": "1.0.0",
        "candidate": {"versions": candidate, "metrics": metrics},
        "staging": None if staging is None else {"versions": staged, "metrics": staging},
    }


def test_cli_promotes_refuses_and_rejects_a_stale_report(client, tmp_path):
    import json

    root = project(tmp_path, client.tracking_uri)
    path = root / "metrics.json"
    path.write_text(json.dumps(report(pair("1", "1"), GOOD)))
    done = cli("promote", "--metrics", str(path), cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["promote"] is True
    assert alias_version(client, "aeseditor", "staging") == "1"

    again = cli("promote", "--metrics", str(path), cwd=root)  # the same report, staging moved
    assert again.returncode == 0 and json.loads(again.stdout)["unchanged"] is True

    path.write_text(
        json.dumps(report(pair("2", "2"), {**GOOD, "aesthetic": 0.5}, GOOD, pair("1", "1")))
    )
    refused = cli("promote", "--metrics", str(path), cwd=root)
    assert refused.returncode == 3 and "refused: aesthetic 0.5 vs staging 0.6" in refused.stderr
    assert alias_version(client, "aesthinker", "staging") == "1"

    wrong = cli("promote", "--metrics", str(path), "--thinker", "3", cwd=root)
    assert_one_line_error(wrong, "the eval report is for")
    path.write_text(json.dumps(report(pair("2", "2"), GOOD)))  # compared against no staging
    stale = cli("promote", "--metrics", str(path), cwd=root)
    assert_one_line_error(stale, "staging now holds", "run eval again")
    path.write_text("{}")
    assert_one_line_error(cli("promote", "--metrics", str(path), cwd=root), "not an eval report")

    prod = cli("promote-production", "--model", "aesthinker", "--version", "1", cwd=root)
    assert prod.returncode == 0 and "-> production (was none)" in prod.stdout
    bad = cli("promote-production", "--model", "aesthinker", "--version", "2", cwd=root)
    assert_one_line_error(bad, "not in staging")
