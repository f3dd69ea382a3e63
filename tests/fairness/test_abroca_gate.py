"""The gate's ABROCA check decides with the statistic's own tests, not a normal interval around a biased estimate.

ABROCA is an absolute area, so two groups served by the same model still show one (noise makes their ROC curves
differ). Independent truth: the simulation's parameters (groups drawn from one distribution: true ABROCA 0;
or one group's scores made uninformative: a real difference)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from engine.fairness.gate import FAIL, PASS, evaluate_policy, parse_policy
from engine.fairness.roc import abroca_test, p_above, p_below

POLICY = """
policy = "abroca-only"
version = "1"
format = 1
[statistics]
multiple_comparisons = "none"
[[checks]]
name = "abroca"
audit = "model"
metric = "abroca"
compare = "value"
max = {bound}
"""


def _record(rng: np.random.Generator, n_students: int = 40, rows: int = 8, informative_b: float = 1.0) -> tuple[dict, object]:
    """Two groups of students answering with P(correct) 0.6; scores are y + noise (group B's signal scaled)."""
    student = np.repeat(np.arange(2 * n_students), rows)
    in_a = np.arange(2 * n_students) < n_students
    y = (rng.random(student.size) < 0.6).astype(float)
    signal = np.where(in_a[student], 1.0, informative_b)
    p = 1 / (1 + np.exp(-(1.5 * signal * (y - 0.5) + rng.normal(0, 1, student.size))))
    result = abroca_test(y, p, student, in_a, n_permutations=99, n_boot=99, random_state=int(rng.integers(1 << 30)))
    record = {"kind": "value", "audit": "model", "metric": "abroca", "higher_is_better": False, "stratum": None,
              "attribute": "g", "group": "A", "reference": "B", "estimate": result.value, "se": result.se,
              "p_value": result.p_value, "n_students": n_students, "ci": [result.ci_low, result.ci_high],
              "null": list(result.null), "boot": list(result.boot)}
    return record, result


def test_groups_served_alike_rarely_fail_where_the_normal_interval_would_fail_them() -> None:
    rng = np.random.default_rng(11)
    records = [_record(rng) for _ in range(40)]
    bound = float(np.median([r.value for _, r in records])) * 0.2  # well below most estimates, above the truth (0)
    policy = parse_policy(POLICY.format(bound=bound))
    fails = sum(evaluate_policy(policy, {"model": [rec]}).check_status["abroca"] == FAIL for rec, _ in records)
    normal = sum(stats.norm.sf((r.value - bound) / r.se) < 0.05 for _, r in records)  # estimate - z se > bound
    assert fails <= 4  # nominal 5% at most (the true ABROCA, 0, is inside the bound), allowing for 40 draws
    assert normal >= 10  # the biased normal test would have failed many of these fair models


def test_a_real_difference_fails_and_a_loose_bound_passes() -> None:
    rng = np.random.default_rng(5)
    record, result = _record(rng, n_students=60, informative_b=0.0)  # group B's scores carry no signal
    assert result.ci_low > 0.05
    assert evaluate_policy(parse_policy(POLICY.format(bound=0.05)), {"model": [record]}).check_status["abroca"] == FAIL
    loose = evaluate_policy(parse_policy(POLICY.format(bound=0.9)), {"model": [record]})
    assert loose.check_status["abroca"] == PASS
    row = loose.to_dict()["checks"][0]
    assert row["ci"] == [pytest.approx(result.ci_low), pytest.approx(result.ci_high)]  # shown as computed


def test_the_tests_invert_the_interval() -> None:
    """p_above at the lower bound's edge and p_below against the percentile, by counting by hand."""
    null = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, 0.12, 0.13, 0.14, 0.15,
                     0.16, 0.17, 0.18, 0.19, 0.20])
    assert p_above(0.17, null, 0.0) == pytest.approx((1 + 4) / 21)  # 0.17, 0.18, 0.19, 0.20 reach it
    assert p_above(0.17, null, 0.05) == pytest.approx((1 + 9) / 21)  # values >= 0.12
    boot = np.linspace(0.0, 0.19, 20)
    assert p_below(0.05, boot, 0.155) == pytest.approx((1 + 4) / 21)  # 0.16, 0.17, 0.18, 0.19 reach it
    assert p_below(0.2, boot, 0.155) == 1.0  # the estimate itself reaches the bound


def test_the_shift_test_counts_every_permutation_as_the_p_value_does() -> None:
    """Permutations that leave a group with one class have no area: they count in the denominator of the
    p-value, so `p_above` at bound 0 must equal it, and rejecting at the interval's lower bound must agree
    with the interval (found by mutation testing: the gate divided by the finite permutations only)."""
    n = 40
    student = np.repeat(np.arange(n), 2)
    rng = np.random.default_rng(5)
    one_class = np.repeat(np.arange(1, 25) % 2, 2).astype(float)
    y = np.r_[1.0, 0.0, one_class, np.tile([1.0, 0.0], 15)]
    p = np.r_[0.9, 0.1, rng.random(48), np.full(30, 0.5)]
    in_a = np.arange(n) == 0
    result = abroca_test(y, p, student, in_a, n_permutations=39, n_boot=60, random_state=3)
    assert len(result.null) < 39  # some permutations had no area
    assert p_above(result.value, np.array(result.null), 0.0, 39) == pytest.approx(result.p_value)
    assert p_above(result.value, np.array(result.null), result.ci_low - 1e-9, 39) <= 0.05


def test_an_empty_group_has_no_curve() -> None:
    from engine.fairness.roc import abroca, roc_curve

    fpr, tpr = roc_curve(np.array([]), np.array([]))
    assert np.isnan(fpr).all() and np.isnan(tpr).all()
    y, p = np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.2, 0.6])
    assert np.isnan(abroca(y, p, np.ones(3, dtype=bool)))
