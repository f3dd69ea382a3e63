"""Edge cases of the fairness gate (engine/fairness/gate.py) that the mutation run showed untested.

References: the decision rule of the module docstring re-implemented in plain Python (one-sided normal
p-values from `math.erfc`, Holm / Bonferroni / BH from statsmodels' `multipletests`), hand-computed
differences, ratios and their variances from a covariance matrix, and the documented policy keys,
defaults and error messages (ConfigError names the offending key or value).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from engine.errors import ConfigError, NotFoundError
from engine.fairness.gate import (
    ALL_STUDENTS,
    EXIT_CODES,
    FAIL,
    INSUFFICIENT,
    PASS,
    Check,
    GateResult,
    Policy,
    Row,
    _oriented,
    _reference_index,
    _rows_for,
    _test,
    evaluate_policy,
    load_policy,
    parse_policy,
)
from engine.fairness.metricframe import OVERALL

HEAD = 'policy = "p"\nversion = "7"\n'
CHECK = '[[checks]]\nname = "c"\naudit = "model"\nmetric = "auc"\ncompare = "difference"\nmax = 0.05\n'


def _sf(z: float) -> float:
    """Upper tail of the standard normal, from its definition through erfc."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _err(text: str, source: str = "s.toml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_policy(text, source)
    message = str(info.value)
    assert message.startswith(f"policy {source}: ")
    return message


# ---------------------------------------------------------------- parsing
def test_defaults_of_a_minimal_policy_and_of_its_check() -> None:
    policy = parse_policy(HEAD + CHECK)
    assert (policy.name, policy.version, policy.source, policy.description) == ("p", "7", "<string>", "")
    assert policy.min_group_size == 10 and policy.show_suppressed_labels is True
    assert policy.confidence == 0.95 and policy.alpha == 0.05
    assert policy.multiple_comparisons == "holm" and policy.burden_of_proof == "model"
    assert (policy.n_bootstrap, policy.n_permutations, policy.random_state) == (200, 200, 0)
    (check,) = policy.checks
    assert check == Check(name="c", audit="model", metric="auc", compare="difference", reference="best", min=None,
                          max=0.05, min_n=0, require_significant=False, strata=(), description="")
    assert policy.summary() == {"name": "p", "version": "7", "source": "<string>"}


def test_every_documented_key_is_read() -> None:
    text = (HEAD + 'format = 1\ndescription = "d"\n[privacy]\nmin_group_size = 3\nshow_suppressed_labels = false\n'
            '[statistics]\nconfidence = 0.9\nalpha = 0.1\nmultiple_comparisons = "bh"\nburden_of_proof = "auditor"\n'
            'n_bootstrap = 31\nn_permutations = 47\nrandom_state = 5\n'
            '[[checks]]\nname = "c"\naudit = "recommendations"\nmetric = "advanced_exposure"\ncompare = "ratio"\n'
            'reference = "largest"\nmin = 0.8\nmax = 2\nmin_n = 12\nrequire_significant = true\nstrata = ["mid", "high"]\n'
            'description = "why"\n')
    policy = parse_policy(text, "x.toml")
    assert (policy.description, policy.min_group_size, policy.show_suppressed_labels, policy.source) == ("d", 3, False, "x.toml")
    assert (policy.confidence, policy.alpha, policy.multiple_comparisons, policy.burden_of_proof) == (0.9, 0.1, "bh", "auditor")
    assert (policy.n_bootstrap, policy.n_permutations, policy.random_state) == (31, 47, 5)
    (c,) = policy.checks
    assert c == Check(name="c", audit="recommendations", metric="advanced_exposure", compare="ratio", reference="largest",
                      min=0.8, max=2.0, min_n=12, require_significant=True, strata=("mid", "high"), description="why")
    assert isinstance(c.max, float)


@pytest.mark.parametrize("text, message", [
    (HEAD + "extra = 1\n" + CHECK, "unknown key 'extra'; allowed keys here: checks, description, format, policy, privacy, "
                                   "statistics, version"),
    (HEAD + "[privacy]\nsize = 1\n" + CHECK, "unknown key 'privacy.size'; allowed keys here: min_group_size, "
                                             "show_suppressed_labels"),
    (HEAD + "[statistics]\nseed = 1\n" + CHECK, "unknown key 'statistics.seed'; allowed keys here: alpha, "
     "burden_of_proof, confidence, multiple_comparisons, n_bootstrap, n_permutations, random_state"),
    (HEAD + CHECK + "zz = 1\n", "unknown key 'checks[0].zz'; allowed keys here: audit, compare, description, max, "
                                "metric, min, min_n, name, reference, require_significant, strata"),
    (HEAD + "format = 2\n" + CHECK, "format 2 is not supported (this build reads 1)"),
    ('version = "1"\n' + CHECK, "top-level key 'policy' is required"),
    ('policy = "p"\n' + CHECK, "top-level key 'version' is required"),
    (HEAD, "no [[checks]] defined"),
    (HEAD + CHECK + CHECK, "check names must be unique"),
    (HEAD + '[statistics]\nmultiple_comparisons = "sidak"\n' + CHECK,
     "statistics.multiple_comparisons must be one of: holm, bh, bonferroni, none"),
    (HEAD + '[statistics]\nburden_of_proof = "nobody"\n' + CHECK, "statistics.burden_of_proof must be 'model' or 'auditor'"),
    (HEAD + "[statistics]\nconfidence = 1.0\n" + CHECK, "confidence and alpha must lie in (0, 1)"),
    (HEAD + "[statistics]\nconfidence = 0.0\n" + CHECK, "confidence and alpha must lie in (0, 1)"),
    (HEAD + "[statistics]\nalpha = 1.0\n" + CHECK, "confidence and alpha must lie in (0, 1)"),
    (HEAD + "[statistics]\nalpha = 0.0\n" + CHECK, "confidence and alpha must lie in (0, 1)"),
    (HEAD + "[privacy]\nmin_group_size = 0\n" + CHECK, "privacy.min_group_size must be at least 1"),
    ("policy = [", "not valid TOML: "),
])
def test_policy_errors_name_the_key_and_what_is_allowed(text: str, message: str) -> None:
    assert message in _err(text)


@pytest.mark.parametrize("key", ["name", "audit", "metric", "compare"])
def test_each_required_check_key_is_named(key: str) -> None:
    lines = [line for line in CHECK.splitlines() if not line.startswith(f"{key} =")]
    assert f"checks[0].{key} is required" in _err(HEAD + "\n".join(lines) + "\n")


@pytest.mark.parametrize("replace_from, replace_to, message", [
    ('audit = "model"', 'audit = "modle"', "check 'c': unknown audit 'modle'; choose one of: model, dif, recommendations, outcomes"),
    ('metric = "auc"', 'metric = "gain"', "check 'c': unknown metric 'gain' for audit 'model'; choose one of: abroca, auc, ece, "
     "identity_delta_auc, logloss, mastery_gap, mastery_success, mean_residual, rmse"),
    ('compare = "difference"', 'compare = "diff"', "check 'c': unknown compare 'diff'; choose one of: difference, ratio, value"),
    ('metric = "auc"', 'metric = "abroca"', "check 'c': metric 'abroca' supports only compare = \"value\""),
    ("max = 0.05", "", "check 'c' needs a bound: min, max or both"),
    ("max = 0.05", "max = true", "checks[0].max has the wrong type (bool: True)"),
    ("max = 0.05", 'max = "1"', "checks[0].max has the wrong type (str: '1')"),
    ("max = 0.05", "max = 0.05\nmin = 0.06", "check 'c': min is above max"),
    ("max = 0.05", "max = 0.05\nmin_n = 2.5", "checks[0].min_n has the wrong type (float: 2.5)"),
    ("max = 0.05", "max = 0.05\nmin_n = true", "checks[0].min_n has the wrong type (bool: True)"),
    ("max = 0.05", "max = 0.05\nrequire_significant = 1", "checks[0].require_significant has the wrong type (int: 1)"),
    ("name = \"c\"", "name = 3", "checks[0].name has the wrong type (int: 3)"),
    ("max = 0.05", "max = 0.05\nstrata = [1]", "check 'c': strata must be a list of stratum labels"),
])
def test_check_errors(replace_from: str, replace_to: str, message: str) -> None:
    assert message in _err(HEAD + CHECK.replace(replace_from, replace_to))


def test_bound_edges_are_accepted() -> None:
    equal = parse_policy(HEAD + CHECK.replace("max = 0.05", "min = 0.05\nmax = 0.05"))
    assert (equal.checks[0].min, equal.checks[0].max) == (0.05, 0.05)
    integer = parse_policy(HEAD + CHECK.replace("max = 0.05", "max = 1"))  # an int is a number
    assert integer.checks[0].max == 1.0
    ratio = HEAD + CHECK.replace('compare = "difference"', 'compare = "ratio"')
    assert parse_policy(ratio.replace("max = 0.05", "min = 0.001")).checks[0].min == 0.001
    for bad in ("min = 0", "min = -1", "max = 0", "min = -0.5\nmax = 2"):
        assert "ratio bounds must be positive" in _err(ratio.replace("max = 0.05", bad))
    assert parse_policy(HEAD + "[privacy]\nmin_group_size = 1\n" + CHECK).min_group_size == 1
    edge = parse_policy(HEAD + "[statistics]\nconfidence = 0.999\nalpha = 0.001\n" + CHECK)
    assert (edge.confidence, edge.alpha) == (0.999, 0.001)


def test_load_policy_from_a_file_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(HEAD + CHECK)
    policy = load_policy(path)
    assert policy.source == str(path) and policy.name == "p"
    assert load_policy(str(path)).checks == policy.checks
    with pytest.raises(NotFoundError, match="policy file .*nope.toml not found"):
        load_policy(tmp_path / "nope.toml")
    with pytest.raises(NotFoundError):
        load_policy(tmp_path)  # a folder is not a policy file
    default = load_policy()
    assert default.source == "default.toml"


# ---------------------------------------------------------------- rows and statistics
def _check(**kw) -> Check:
    base = dict(name="c", audit="model", metric="auc", compare="difference")
    return Check(**{**base, **kw})


def test_row_interval_plain_log_scale_given_and_undefined() -> None:
    c = _check(max=1.0)
    assert Row(c, "a", None, "g", None, 0.3, 0.1).ci(2.0) == pytest.approx([0.1, 0.5])
    lo, hi = Row(c, "a", None, "g", None, 2.0, 0.5, log_scale=True).ci(2.0)
    assert lo == pytest.approx(2.0 * math.exp(-1.0)) and hi == pytest.approx(2.0 * math.exp(1.0))
    assert Row(c, "a", None, "g", None, 0.3, 0.1, interval=(0, 1)).ci(2.0) == [0.0, 1.0]
    for value, se in ((None, 0.1), (0.3, None), (0.3, float("nan")), (float("inf"), 0.1), (0.3, float("inf"))):
        assert Row(c, "a", None, "g", None, value, se).ci(2.0) == [None, None]
    assert Row(c, "a", None, "g", None, 0.3, 0.0).ci(2.0) == [0.3, 0.3]


def _record(est, higher=True, cov=None, log_cov=None):
    return {"estimate": est, "higher_is_better": higher, "cov": cov, "log_cov": log_cov}


def test_oriented_difference_and_its_standard_error() -> None:
    cov = [[0.04, 0.01, 0.0], [0.01, 0.09, 0.0], [0.0, 0.0, 0.01]]
    # higher is better: shortfall = reference - group; var = v_i + v_r - 2 c_ir
    value, se = _oriented(_record([0.6, 0.8, 0.7], True, cov), 0, 1, "difference")
    assert value == pytest.approx(0.2) and se == pytest.approx(math.sqrt(0.04 + 0.09 - 0.02))
    value, se = _oriented(_record([0.6, 0.8, 0.7], False, cov), 0, 1, "difference")
    assert value == pytest.approx(-0.2) and se == pytest.approx(math.sqrt(0.11))
    # a negative variance from rounding is clamped at 0, not a NaN
    value, se = _oriented(_record([0.5, 0.5], True, [[0.01, 0.02], [0.02, 0.01]]), 0, 1, "difference")
    assert value == 0.0 and se == 0.0
    value, se = _oriented(_record([0.5, 0.7], True, None), 0, 1, "difference")
    assert value == pytest.approx(0.2) and math.isnan(se)
    for est in ([None, 0.5], [0.5, float("nan")], [float("inf"), 0.5]):
        assert all(math.isnan(x) for x in _oriented(_record(est, True, cov), 0, 1, "difference"))


def test_oriented_ratio_and_its_log_standard_error() -> None:
    log_cov = [[0.04, 0.01], [0.01, 0.09]]
    value, se = _oriented(_record([0.2, 0.4], True, None, log_cov), 0, 1, "ratio")
    assert value == pytest.approx(0.5) and se == pytest.approx(math.sqrt(0.11))
    value, se = _oriented(_record([0.2, 0.4], False, None, log_cov), 0, 1, "ratio")
    assert value == pytest.approx(2.0) and se == pytest.approx(math.sqrt(0.11))
    value, se = _oriented(_record([0.3, 0.3], True, None, [[0.01, 0.02], [0.02, 0.01]]), 0, 1, "ratio")
    assert value == 1.0 and se == 0.0
    for est, lc in (([0.0, 0.4], log_cov), ([0.2, 0.0], log_cov), ([-0.2, 0.4], log_cov), ([0.2, 0.4], None)):
        assert all(math.isnan(x) for x in _oriented(_record(est, True, None, lc), 0, 1, "ratio"))


def test_reference_index_rules() -> None:
    rec = {"groups": ["b", "a", OVERALL, "c"], "estimate": [0.7, 0.7, 0.6, 0.5], "higher_is_better": True,
           "n_students": [20, 20, 70, 30]}
    assert _reference_index(rec, "overall") == 2
    assert _reference_index({**rec, "groups": ["b", "a", "x", "c"]}, "overall") is None
    assert _reference_index(rec, "largest") == 3  # the overall row is never the largest group
    assert _reference_index({**rec, "n_students": [20, 20, 70, 10]}, "largest") == 1  # tie 20/20: first label, "a"
    assert _reference_index(rec, "best") == 1  # tie 0.7/0.7: first label
    assert _reference_index({**rec, "higher_is_better": False}, "best") == 3
    assert _reference_index({**rec, "estimate": [0.9, None, 0.99, float("nan")]}, "best") == 0  # overall is no group
    assert _reference_index({**rec, "estimate": [None, float("nan"), 0.6, None]}, "best") is None
    assert _reference_index(rec, "c") == 3 and _reference_index(rec, "zz") is None
    assert _reference_index({**rec, "groups": [OVERALL], "estimate": [0.5], "n_students": [5]}, "largest") is None


def _groups_record(groups, est, n, stratum=None, cov=None, log_cov=None, higher=True, suppressed=0, attribute="g",
                   metric="auc"):
    k = len(groups)
    cov = cov if cov is not None else (np.eye(k) * 0.0004).tolist()
    return {"kind": "groups", "metric": metric, "higher_is_better": higher, "stratum": stratum, "attribute": attribute,
            "groups": groups, "n_students": n, "estimate": est, "cov": cov, "log_cov": log_cov, "suppressed": suppressed}


def test_value_rows_test_the_overall_row_once_per_stratum() -> None:
    check = _check(compare="value", metric="auc", min=0.5)
    records = [_groups_record(["a", OVERALL], [0.6, 0.7], [10, 30], cov=[[0.01, 0], [0, 0.04]]),
               _groups_record(["x", OVERALL], [0.8, 0.7], [12, 30], attribute="h"),
               _groups_record(["a", OVERALL], [0.6, 0.7], [10, 30], stratum="mid"),
               _groups_record(["a"], [0.1], [3], metric="rmse")]
    rows, suppressed, vacuous = _rows_for(check, records)
    assert [(r.attribute, r.stratum, r.group, r.value) for r in rows] == [
        ("g", None, "a", 0.6), ("g", None, ALL_STUDENTS, 0.7), ("h", None, "x", 0.8),
        ("g", "mid", "a", 0.6), ("g", "mid", ALL_STUDENTS, 0.7)]
    assert rows[0].se == pytest.approx(0.1) and rows[1].se == pytest.approx(0.2)
    assert [r.n_students for r in rows] == [10, 30, 12, 10, 30]
    assert all(r.reference is None and not r.log_scale for r in rows)
    assert (suppressed, vacuous) == (0, [])
    no_cov = _rows_for(check, [_groups_record(["a"], [0.6], [10], cov=[])])[0]
    assert math.isnan(no_cov[0].se)


def test_value_records_suppression_sampling_and_interval() -> None:
    base = {"kind": "value", "metric": "abroca", "stratum": None, "attribute": "g", "reference": "r", "se": 0.01,
            "n_students": 40}
    records = [{**base, "group": "hidden", "estimate": None, "suppressed": True},
               {**base, "group": "x", "estimate": 0.02, "p_value": 0.3, "ci": [0.0, 0.05], "null": [0.01, 0.02],
                "boot": [0.03], "n_permutations": 9},
               {**base, "group": "y", "estimate": 0.02, "ci": [None, 0.05], "null": [0.01], "boot": []},
               {**base, "group": "z", "estimate": 0.02, "null": [], "boot": [0.1]}]
    rows, suppressed, _ = _rows_for(_check(metric="abroca", compare="value", max=0.05), records)
    assert suppressed == 1 and [r.group for r in rows] == ["x", "y", "z"]
    x, y, z = rows
    assert (x.interval, x.null, x.boot, x.n_permutations, x.p_value, x.reference) == ((0.0, 0.05), (0.01, 0.02), (0.03,), 9, 0.3, "r")
    assert (y.interval, y.null, y.boot, y.n_permutations, y.p_value) == (None, (), (), None, None)
    assert (z.interval, z.null, z.boot) == (None, (), ())
    assert x.n_students == 40 and x.se == 0.01


def test_not_applicable_strata_and_vacuous_rows() -> None:
    check = _check(audit="recommendations", metric="advanced_exposure", compare="ratio", reference="largest", min=0.8,
                   strata=("high",))
    records = [{"kind": "not_applicable", "metric": "advanced_exposure", "reason": "nobody"},
               {"kind": "not_applicable", "metric": "intervention_rate", "reason": "other metric"},
               _groups_record(["a", "b", OVERALL], [0.2, 0.1, 0.15], [30, 20, 50], stratum="low", metric="advanced_exposure",
                              log_cov=np.eye(3).tolist(), suppressed=4),
               _groups_record(["a", "b", "c", OVERALL], [0.0, 0.0, 0.1, 0.03], [30, 20, 10, 60], stratum="high",
                              metric="advanced_exposure", log_cov=(np.eye(4) * 0.01).tolist(), suppressed=2)]
    rows, suppressed, vacuous = _rows_for(check, records)
    assert suppressed == 2  # the low band is not evaluated, so its suppressed groups are not counted
    assert vacuous == ["nobody", "nobody in any shown group received 'advanced_exposure' (a rate of 0 everywhere)"]
    # reference "a" (largest, 30); "b" with a == b == 0 is skipped; "c" tested both ways (one bound only)
    assert [(r.group, r.reference) for r in rows] == [("c", "a"), ("a", "c")]
    assert all(r.log_scale and r.stratum == "high" for r in rows)
    assert [r.n_students for r in rows] == [10, 30]


def test_both_ways_only_against_a_fixed_group_reference_with_one_bound() -> None:
    rec = _groups_record(["a", "b", OVERALL], [0.7, 0.6, 0.65], [30, 20, 50])

    def pairs(**kw):
        return [(r.group, r.reference) for r in _rows_for(_check(**kw), [rec])[0]]

    assert pairs(reference="largest", max=0.05) == [("b", "a"), ("a", "b")]
    assert pairs(reference="a", min=-0.05) == [("b", "a"), ("a", "b")]
    assert pairs(reference="largest", min=-0.05, max=0.05) == [("b", "a")]
    assert pairs(reference="best", max=0.05) == [("b", "a")]
    assert pairs(reference="overall", max=0.05) == [("a", ALL_STUDENTS), ("b", ALL_STUDENTS)]
    assert pairs(reference="nobody", max=0.05) == []
    rows = _rows_for(_check(reference="largest", max=0.05), [rec])[0]
    assert rows[0].value == pytest.approx(0.1) and rows[1].value == pytest.approx(-0.1)
    assert rows[0].n_students == 20 and rows[1].n_students == 30 and not rows[0].log_scale


def _row(value, se, *, min=None, max=None, log_scale=False, p_value=None, require=False, null=(), boot=(), n_perm=None):
    check = _check(min=min, max=max, require_significant=require)
    return Row(check, "g", None, "x", None, value, se, log_scale=log_scale, p_value=p_value, null=null, boot=boot,
               n_permutations=n_perm)


def test_normal_tests_against_the_definition() -> None:
    # max only: p_fail = P(Z > (v - max)/se), p_pass = P(Z < (v - max)/se)
    p_fail, p_pass = _test(_row(0.13, 0.02, max=0.1))
    assert p_fail == pytest.approx(_sf(1.5)) and p_pass == pytest.approx(_cdf(1.5))
    # min only: p_fail = P(Z < (v - min)/se)
    p_fail, p_pass = _test(_row(0.13, 0.02, min=0.1))
    assert p_fail == pytest.approx(_cdf(1.5)) and p_pass == pytest.approx(_sf(1.5))
    # both bounds: fail = the smaller, pass = the larger (intersection-union)
    p_fail, p_pass = _test(_row(0.0, 0.1, min=-0.1, max=0.2))
    assert p_fail == pytest.approx(min(_cdf(1.0), _sf(-2.0))) and p_pass == pytest.approx(max(_sf(1.0), _cdf(-2.0)))
    # log scale: the value and the bounds are logged
    p_fail, p_pass = _test(_row(0.5, 0.2, min=0.8, log_scale=True))
    z = (math.log(0.5) - math.log(0.8)) / 0.2
    assert p_fail == pytest.approx(_cdf(z)) and p_pass == pytest.approx(_sf(z))


def test_zero_standard_error_decides_exactly() -> None:
    assert _test(_row(0.2, 0.0, max=0.1)) == (0.0, 1.0)
    assert _test(_row(0.1, 0.0, max=0.1)) == (1.0, 0.0)  # on the bound: inside
    assert _test(_row(0.05, 0.0, min=0.1)) == (0.0, 1.0)
    assert _test(_row(0.1, 0.0, min=0.1)) == (1.0, 0.0)
    assert _test(_row(0.15, 0.0, min=0.1, max=0.2)) == (1.0, 0.0)


def test_require_significant_takes_the_larger_p() -> None:
    strong = _test(_row(0.5, 0.01, max=0.1))[0]
    assert _test(_row(0.5, 0.01, max=0.1, require=True, p_value=0.3))[0] == 0.3
    assert _test(_row(0.5, 0.01, max=0.1, require=True, p_value=None))[0] == 1.0
    assert _test(_row(0.5, 0.01, max=0.1, require=False, p_value=0.3))[0] == strong
    assert _test(_row(0.5, 0.01, max=0.1, require=True, p_value=0.0))[0] == strong


def test_sampled_statistic_uses_the_permutation_and_bootstrap_counts() -> None:
    null = (0.01, 0.02, 0.03, 0.05, 0.2)
    boot = (0.05, 0.08, 0.12, 0.15)
    # max = 0.1: fail = p_above = (1 + #(null >= 0.12 - 0.1)) / (1 + 8 permutations drawn)
    p_fail, p_pass = _test(_row(0.12, 0.01, max=0.1, null=null, boot=boot, n_perm=8))
    assert p_fail == pytest.approx((1 + 4) / 9)
    assert p_pass == 1.0  # the estimate itself reaches the bound: p_below = 1
    p_fail, p_pass = _test(_row(0.06, 0.01, max=0.1, null=null, boot=boot, n_perm=8))
    assert p_fail == pytest.approx((1 + 5) / 9)
    assert p_pass == pytest.approx((1 + 2) / 5)
    # min = 0.1: fail = p_below, pass = p_above
    p_fail, p_pass = _test(_row(0.06, 0.01, min=0.1, null=null, boot=boot, n_perm=8))
    assert p_fail == pytest.approx(3 / 5) and p_pass == pytest.approx(6 / 9)
    # both bounds: each side is tested (fail = the smaller p, pass = the larger)
    # value 0.15 in [0.1, 0.2]: min side fail = p_below = 1 (estimate above 0.1), pass = p_above(0.1) = (1 + 2) / 9;
    # max side fail = p_above(0.2) = (1 + 5) / 9, pass = p_below(0.2) = (1 + 0) / 5
    p_fail, p_pass = _test(_row(0.15, 0.01, min=0.1, max=0.2, null=null, boot=boot, n_perm=8))
    assert p_fail == pytest.approx(min(1.0, 6 / 9)) and p_pass == pytest.approx(max(3 / 9, 1 / 5))
    # no samples, or on the log scale: the normal approximation
    assert _test(_row(0.12, 0.01, max=0.1, null=null, boot=()))[0] == pytest.approx(_sf(2.0))
    assert _test(_row(0.12, 0.01, max=0.1, null=(), boot=boot))[0] == pytest.approx(_sf(2.0))


# ---------------------------------------------------------------- evaluation
def _policy(*checks: Check, **kw) -> Policy:
    return replace(Policy(name="p", version="1", checks=tuple(checks)), **kw)


def _value_records(values, se, metric="abroca", n=100):
    return [{"kind": "value", "metric": metric, "stratum": None, "attribute": "g", "group": f"g{k}", "reference": None,
             "estimate": v, "se": se, "n_students": n} for k, v in enumerate(values)]


@pytest.mark.parametrize("method, sm", [("holm", "holm"), ("bonferroni", "bonferroni"), ("bh", "fdr_bh"), ("none", None)])
def test_decisions_follow_the_adjusted_p_values(method: str, sm: str | None) -> None:
    values = [0.16, 0.13, 0.1, 0.07, 0.03, -0.2]
    se, bound, alpha = 0.02, 0.1, 0.05
    check = _check(metric="abroca", compare="value", max=bound)
    for burden in ("model", "auditor"):
        result = evaluate_policy(_policy(check, multiple_comparisons=method, burden_of_proof=burden, alpha=alpha),
                                 {"model": _value_records(values, se)})
        fail = np.array([_sf((v - bound) / se) for v in values])
        pas = np.array([_cdf((v - bound) / se) for v in values])
        if sm:
            fail, pas = multipletests(fail, method=sm)[1], multipletests(pas, method=sm)[1]
        want = [FAIL if f < alpha else PASS if p < alpha or burden == "auditor" else INSUFFICIENT for f, p in zip(fail, pas)]
        assert [r.status for r in result.rows] == want
        np.testing.assert_allclose([r.p_fail for r in result.rows], fail, rtol=1e-9)
        np.testing.assert_allclose([r.p_pass for r in result.rows], pas, rtol=1e-9)
        for r, w in zip(result.rows, want):
            assert r.reason == ("the confidence interval straddles the bound" if w == INSUFFICIENT else "")
        assert result.check_status == {"c": max(want, key=[PASS, INSUFFICIENT, FAIL].index)}


def test_alpha_is_a_strict_threshold() -> None:
    # one row with p_fail exactly alpha (se 0: p in {0, 1}); alpha = 1 - 1e-12 keeps 1.0 from failing
    check = _check(metric="abroca", compare="value", max=0.1)
    at = evaluate_policy(_policy(check, alpha=0.5), {"model": _value_records([0.1], 0.0)})
    assert at.rows[0].p_fail == 1.0 and at.rows[0].p_pass == 0.0 and at.status == PASS
    # a p-value equal to alpha is not below it (alpha computed as the gate computes the p-value, so exactly equal)
    from scipy import stats

    value = 0.1 + 0.02
    alpha = float(stats.norm.sf((value - 0.1) / 0.02))
    row = evaluate_policy(_policy(check, alpha=alpha, multiple_comparisons="none"), {"model": _value_records([value], 0.02)}).rows[0]
    assert row.p_fail == alpha and row.status == INSUFFICIENT
    value = 0.1 - 0.02
    alpha = float(stats.norm.cdf((value - 0.1) / 0.02))
    row = evaluate_policy(_policy(check, alpha=alpha, multiple_comparisons="none"), {"model": _value_records([value], 0.02)}).rows[0]
    assert row.p_pass == alpha and row.status == INSUFFICIENT


def test_untestable_rows_and_min_n() -> None:
    check = _check(metric="abroca", compare="value", max=0.1, min_n=50)
    records = (_value_records([0.0], 0.01, n=50) + _value_records([0.0], 0.01, n=49) +
               _value_records([None], 0.01) + _value_records([0.0], float("nan")) + _value_records([0.0], None) +
               _value_records([float("inf")], 0.01) + [{**_value_records([0.0], 0.01)[0], "n_students": None}])
    result = evaluate_policy(_policy(check, multiple_comparisons="none"), {"model": records})
    assert [r.status for r in result.rows] == [PASS, INSUFFICIENT, INSUFFICIENT, INSUFFICIENT, INSUFFICIENT, INSUFFICIENT, PASS]
    reasons = [r.reason for r in result.rows]
    assert reasons[1] == "fewer than 50 students"
    assert reasons[2:6] == ["statistic or its standard error could not be estimated"] * 4
    assert math.isnan(result.rows[1].p_fail) and math.isnan(result.rows[2].p_pass)
    # only the testable rows count in the adjustment: with holm over 2 rows the first p_pass doubles
    holm = evaluate_policy(_policy(check, multiple_comparisons="bonferroni"), {"model": records})
    assert holm.rows[0].p_pass == pytest.approx(min(1.0, 2 * _cdf(-10.0)))
    assert result.status == INSUFFICIENT


def test_notes_and_statuses_of_checks_without_rows() -> None:
    model = _check(name="m", metric="abroca", compare="value", max=0.1)
    gap = _check(name="gap", metric="auc", compare="difference", max=0.05)
    dif = _check(name="d", audit="dif", metric="dif_c_items", compare="value", max=0)
    exposure = _check(name="e", audit="recommendations", metric="advanced_exposure", compare="ratio", min=0.8)
    interventions = _check(name="i", audit="recommendations", metric="intervention_rate", compare="difference", max=0.1)
    policy = _policy(model, gap, dif, exposure, interventions, min_group_size=7)
    evidence = {
        "model": _value_records([0.0], 0.01) + [_groups_record(["a", "b"], [0.7, 0.7], [30, 20], cov=(np.eye(2) * 1e-6).tolist(),
                                                                suppressed=3)],
        "recommendations": [{"kind": "not_applicable", "metric": "advanced_exposure", "reason": "nobody"},
                            {"kind": "not_applicable", "metric": "advanced_exposure", "reason": "nobody"},
                            {"kind": "not_applicable", "metric": "advanced_exposure", "reason": "again"},
                            _groups_record(["a", "b"], [0.0, 0.0], [30, 20], metric="advanced_exposure",
                                           log_cov=np.eye(2).tolist(), suppressed=2)],
    }
    result = evaluate_policy(policy, evidence)
    assert result.check_status == {"m": PASS, "gap": PASS, "d": INSUFFICIENT, "e": PASS, "i": INSUFFICIENT}
    assert result.check_notes["gap"] == "3 group(s) suppressed (fewer than 7 students, or hidden with such a group) not evaluated"
    assert result.check_notes["d"] == "no dif audit was supplied"
    assert result.check_notes["e"] == ("not applicable: nobody; again; nobody in any shown group received "
                                       "'advanced_exposure' (a rate of 0 everywhere); 2 group(s) suppressed (fewer than 7 "
                                       "students, or hidden with such a group) not evaluated")
    assert result.check_notes["i"] == "the recommendations audit has no 'intervention_rate' statistic"
    assert "m" not in result.check_notes
    only_suppressed = evaluate_policy(policy, {"model": [_groups_record(["a"], [0.7], [30], suppressed=1)]}, audits=["model"])
    assert only_suppressed.check_status == {"m": INSUFFICIENT, "gap": INSUFFICIENT}
    assert only_suppressed.check_notes["gap"] == "only suppressed groups: too few students to decide"
    assert only_suppressed.check_notes["m"] == "the model audit has no 'abroca' statistic"
    vacuous_only = evaluate_policy(policy, {"recommendations": evidence["recommendations"][:1]}, audits=["recommendations"])
    assert vacuous_only.check_notes["e"] == "not applicable: nobody"
    assert list(vacuous_only.check_status) == ["e", "i"]


def test_gate_status_exit_code_and_dict() -> None:
    check = _check(metric="abroca", compare="value", max=0.1)
    policy = _policy(check, confidence=0.9)
    empty = GateResult(policy, [], {})
    assert empty.status == INSUFFICIENT and empty.exit_code == 2
    assert GateResult(policy, [], {"a": PASS, "b": PASS}).exit_code == 0
    assert GateResult(policy, [], {"a": PASS, "b": INSUFFICIENT}).status == INSUFFICIENT
    assert GateResult(policy, [], {"a": FAIL, "b": INSUFFICIENT, "c": PASS}).status == FAIL
    assert GateResult(policy, [], {"a": INSUFFICIENT, "b": FAIL}).exit_code == 1
    assert EXIT_CODES == {PASS: 0, FAIL: 1, INSUFFICIENT: 2}
    result = evaluate_policy(policy, {"model": _value_records([0.0, 0.2], 0.01) + _value_records([None], 0.01)})
    body = result.to_dict()
    assert body["status"] == FAIL and body["policy"] == {"name": "p", "version": "1", "source": "default"}
    assert body["check_status"] == {"c": FAIL} and body["check_notes"] == {}
    first, second, third = body["checks"]
    z = 1.6448536269514722  # two-sided 90%
    assert first["ci"] == pytest.approx([-z * 0.01, z * 0.01])
    assert {k: first[k] for k in ("name", "audit", "metric", "compare", "attribute", "stratum", "group", "reference",
                                  "status", "value", "n_students")} == {
        "name": "c", "audit": "model", "metric": "abroca", "compare": "value", "attribute": "g", "stratum": None,
        "group": "g0", "reference": None, "status": PASS, "value": 0.0, "n_students": 100}
    assert "reason" not in first and second["status"] == FAIL
    assert third["reason"] == "statistic or its standard error could not be estimated" and third["ci"] == [None, None]
    assert first["p_fail_adjusted"] == result.rows[0].p_fail and first["p_pass_adjusted"] == result.rows[0].p_pass
