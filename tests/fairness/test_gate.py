"""The gate: policy parsing with clear errors, decisions on confidence bounds with multiple-comparison
control, FAIL for a biased model, PASS for a fair one, INSUFFICIENT_EVIDENCE for tiny groups."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.fairness.gate import FAIL, INSUFFICIENT, PASS, evaluate_policy, load_policy, parse_policy
from engine.fairness.model_audit import audit_model
from engine.fairness.results import assemble, regate
from tests.fairness import simulate as sim

MINIMAL = """
policy = "test"
version = "0.1"
{top}
[privacy]
min_group_size = 10
{privacy}
[[checks]]
name = "auc_gap"
audit = "model"
metric = "auc"
compare = "difference"
max = 0.05
{check}
"""
MODEL_CHECKS = ("auc_shortfall", "calibration_ece_shortfall", "under_over_estimation", "abroca", "identity_predictiveness")


def _policy(top: str = "", privacy: str = "", check: str = "") -> str:
    return MINIMAL.format(top=top, privacy=privacy, check=check)


def test_default_policy_loads_with_versioned_checks() -> None:
    policy = load_policy()
    assert policy.name == "equilearn-default" and policy.version
    assert policy.min_group_size == 10
    assert {c.audit for c in policy.checks} == {"model", "dif", "recommendations", "outcomes"}


@pytest.mark.parametrize("text, named", [
    (_policy(top="thresholds = 3"), "'thresholds'"),
    (_policy(privacy="min_size = 5"), "'privacy.min_size'"),
    (_policy(check="maxx = 0.1"), "'checks[0].maxx'"),
])
def test_unknown_keys_are_named(text: str, named: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_policy(text, "p.toml")
    assert named in str(info.value) and "p.toml" in str(info.value)


@pytest.mark.parametrize("text, message", [
    (_policy().replace('metric = "auc"', 'metric = "accuracy_gap"'), "unknown metric 'accuracy_gap'"),
    (_policy().replace('audit = "model"', 'audit = "models"'), "unknown audit 'models'"),
    (_policy().replace("max = 0.05", ""), "needs a bound"),
    (_policy().replace("max = 0.05", 'max = "small"'), "wrong type"),
    (_policy(top="format = 7"), "format 7"),
    (_policy().replace('compare = "difference"', 'compare = "ratio"').replace("max = 0.05", "min = 0"), "positive"),
    ("policy = [", "not valid TOML"),
])
def test_bad_values_are_explained(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        parse_policy(text, "p.toml")


def _value_evidence(values: list[float], se: float) -> dict[str, list[dict]]:
    return {"model": [{"kind": "value", "audit": "model", "metric": "abroca", "higher_is_better": False, "stratum": None,
                       "attribute": "g", "group": f"g{k}", "reference": "ref", "estimate": v, "se": se,
                       "p_value": None, "n_students": 100} for k, v in enumerate(values)]}


def _abroca_policy(method: str, burden: str = "model"):
    text = _policy().replace('metric = "auc"', 'metric = "abroca"').replace('compare = "difference"', 'compare = "value"')
    return replace(parse_policy(text), multiple_comparisons=method, burden_of_proof=burden)


def test_decisions_on_bounds_with_multiple_comparison_control() -> None:
    # one statistic 2.5 SE above the bound (one-sided p = 0.0062), nine far inside it
    evidence = _value_evidence([0.10] + [0.0] * 9, se=0.02)
    raw = evaluate_policy(_abroca_policy("none"), evidence)
    assert [r.status for r in raw.rows] == [FAIL] + [PASS] * 9
    holm = evaluate_policy(_abroca_policy("holm"), evidence)  # 0.0062 x 10 > 0.05: no longer a confident FAIL
    assert holm.rows[0].status == INSUFFICIENT and holm.status == INSUFFICIENT
    assert holm.rows[0].p_fail == pytest.approx(10 * 0.0062, abs=1e-3)
    auditor = evaluate_policy(_abroca_policy("holm", burden="auditor"), evidence)
    assert auditor.rows[0].status == PASS  # the burden of proof decides what an undecided row becomes


def test_a_check_without_its_audit_or_with_only_suppressed_groups_is_insufficient() -> None:
    policy = load_policy()
    result = evaluate_policy(policy, {})
    assert set(result.check_status.values()) == {INSUFFICIENT}
    assert "no model audit" in result.check_notes["auc_shortfall"]
    suppressed = {"dif": [{"kind": "value", "audit": "dif", "metric": "dif_c_items", "higher_is_better": False,
                           "stratum": None, "attribute": "g", "group": "x", "reference": "rest", "estimate": None,
                           "se": None, "p_value": None, "n_students": None, "suppressed": True}]}
    result = evaluate_policy(policy, suppressed, audits=["dif"])
    assert result.check_status == {"dif_c_items": INSUFFICIENT}
    assert "only suppressed" in result.check_notes["dif_c_items"]


@pytest.fixture(scope="module")
def roster():
    return sim.roster(1000, np.random.default_rng(7))


def _audit(preds, roster, **kw):
    return assemble(audit_model(preds, "gender,ses", roster=roster, n_boot=100, n_permutations=100, **kw), load_policy())


@pytest.fixture(scope="module")
def biased(roster):
    # F students succeed less often than the model predicts (the model cannot see gender)
    return _audit(sim.predictions(roster, np.random.default_rng(8), group_shift=-1.0), roster)


def test_biased_model_fails_and_fair_model_passes(roster, biased) -> None:
    assert biased["status"] == FAIL
    assert biased["check_status"]["under_over_estimation"] == FAIL
    assert biased["check_status"]["identity_predictiveness"] == FAIL
    assert biased["identity_predictiveness"]["p_value"] < 1e-6
    fair = _audit(sim.predictions(roster, np.random.default_rng(9)), roster)
    assert {fair["check_status"][c] for c in MODEL_CHECKS} == {PASS}


def test_tiny_groups_give_insufficient_evidence(roster) -> None:
    small = roster.head(18)  # about 9 per gender and per ses group
    payload = _audit(sim.predictions(small, np.random.default_rng(9), group_shift=-1.0), small)
    assert payload["status"] == INSUFFICIENT
    assert payload["check_status"]["auc_shortfall"] == INSUFFICIENT
    assert payload["check_status"]["identity_predictiveness"] == INSUFFICIENT  # no group left to add: not tested
    assert all(c["status"] != PASS for c in payload["checks"] if c["name"] == "auc_shortfall")


def test_regate_with_another_policy_and_missing_audits(biased) -> None:
    strict = regate([biased], load_policy())
    assert strict.status == FAIL and strict.check_status["dif_c_items"] == INSUFFICIENT
    assert strict.exit_code == 1


def _exposure_evidence(largest: float, other: float) -> dict[str, list[dict]]:
    """Two groups in one band; the largest group has exposure `largest`, the other `other` (log-SE 0.05 each)."""
    var = 0.05 ** 2
    return {"recommendations": [{
        "kind": "groups", "audit": "recommendations", "metric": "advanced_exposure", "higher_is_better": True,
        "stratum": "high", "attribute": "g", "groups": ["big", "small", "__overall__"], "n_students": [900, 100, 1000],
        "estimate": [largest, other, largest], "cov": [[1e-4, 0, 0], [0, 1e-4, 0], [0, 0, 1e-4]],
        "log_cov": [[var, 0, 0], [0, var, 0], [0, 0, var]], "suppressed": 0}]}


EXPOSURE_POLICY = """
policy = "exposure"
version = "1"
[[checks]]
name = "advanced_exposure_ratio"
audit = "recommendations"
metric = "advanced_exposure"
compare = "ratio"
reference = "largest"
min = 0.8
{strata}
"""


def test_a_disadvantaged_reference_group_is_caught_too() -> None:
    policy = parse_policy(EXPOSURE_POLICY.format(strata=""))
    # the largest group (the reference) gets half the other's exposure: ratio big/small = 0.5, far below 0.8
    result = evaluate_policy(policy, _exposure_evidence(largest=0.2, other=0.4))
    assert result.status == FAIL
    assert {(r.group, r.reference) for r in result.rows if r.status == FAIL} == {("big", "small")}
    assert evaluate_policy(policy, _exposure_evidence(largest=0.4, other=0.4)).status == PASS


def test_checks_can_be_limited_to_strata() -> None:
    evidence = _exposure_evidence(largest=0.2, other=0.4)
    only_mid = parse_policy(EXPOSURE_POLICY.format(strata='strata = ["mid"]'))
    assert evaluate_policy(only_mid, evidence).status == INSUFFICIENT  # nothing left to evaluate: never a pass
    with pytest.raises(ConfigError, match="strata must be a list"):
        parse_policy(EXPOSURE_POLICY.format(strata='strata = "high"'))
