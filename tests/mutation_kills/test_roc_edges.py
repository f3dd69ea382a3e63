"""Edge cases of ROC curves and ABROCA (engine/fairness/roc.py) that the mutation run showed untested.

References: scikit-learn's `roc_curve` (also with sample weights and a label of exactly 0.5), `abroca`
on rows repeated by their bootstrap multiplicity (a code path apart from `abroca_test`'s weighted
cumsums), hand-counted permutation p-values, and the exact rule "the test rejects at level alpha
exactly when the observed value exceeds the critical value" checked with integer arithmetic.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import roc_curve as sk_roc_curve

from engine.fairness.roc import abroca, abroca_test, p_above, p_below, permutation_critical_value, roc_curve
from engine.fairness.stats import bootstrap_weights

# Four students, two per group, four answers each, scores on a coarse grid (ties within and across classes).
# Group A (students 0, 1) is ranked well, group B (2, 3) poorly; the lowest score (0.05) is a lone row.
STUDENT = np.repeat(np.arange(4), 4)
Y = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0], dtype=float)
P = np.array([0.9, 0.7, 0.3, 0.3, 0.7, 0.3, 0.5, 0.05, 0.5, 0.7, 0.5, 0.3, 0.9, 0.3, 0.5, 0.7])
IN_A = np.array([True, True, False, False])


def _abroca_of_resample(multiplicity: np.ndarray, in_a: np.ndarray) -> float:
    """ABROCA of the rows repeated by their student's multiplicity, through `abroca` (NaN if a group is empty)."""
    times = multiplicity[STUDENT].astype(int)
    rows_a = np.repeat(in_a[STUDENT], times)
    if rows_a.all() or not rows_a.any():
        return float("nan")
    return abroca(np.repeat(Y, times), np.repeat(P, times), rows_a)


def test_roc_curve_equals_sklearn_with_ties_weights_and_a_label_of_one_half() -> None:
    y = np.array([1, 0, 0.5, 1, 0, 0, 1, 0.2])  # 0.5 is a positive label, 0.2 a negative one
    p = np.array([0.9, 0.8, 0.8, 0.5, 0.4, 0.4, 0.4, 0.1])
    w = np.array([1.0, 2.0, 0.5, 3.0, 1.0, 1.5, 2.0, 0.7])
    for weight in (None, w):
        fpr, tpr, _ = sk_roc_curve(y >= 0.5, p, sample_weight=weight, drop_intermediate=False)
        got_fpr, got_tpr = roc_curve(y, p, weight)
        np.testing.assert_allclose(got_fpr, fpr, rtol=0, atol=1e-15)
        np.testing.assert_allclose(got_tpr, tpr, rtol=0, atol=1e-15)


def test_roc_curve_of_boolean_predictions_equals_sklearn() -> None:
    """A hard classifier's True/False output is a valid score (two thresholds)."""
    y = np.array([1, 1, 0, 0, 1, 0], dtype=float)
    p = np.array([True, False, True, False, True, False])
    fpr, tpr, _ = sk_roc_curve(y, p, drop_intermediate=False)
    got_fpr, got_tpr = roc_curve(y, p)
    np.testing.assert_allclose(got_fpr, fpr)
    np.testing.assert_allclose(got_tpr, tpr)


def test_one_class_curves_and_abroca_are_nan_without_warnings() -> None:
    p = np.array([0.3, 0.6, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for y in (np.ones(3), np.zeros(3)):
            fpr, tpr = roc_curve(y, p)
            assert np.isnan(fpr).all() and np.isnan(tpr).all()
        # group A holds only positives: ABROCA is undefined
        assert np.isnan(abroca(np.array([1.0, 1.0, 1.0, 0.0]), np.array([0.2, 0.4, 0.6, 0.1]),
                               np.array([True, True, False, False])))
        # and ordinary pairs of groups raise no warning either, also where the curves meet at a breakpoint:
        # A = (0,0)-(0,.5)-(.5,.5)-(.5,1)-(1,1) against the diagonal, which it meets at (1, 1): 1/8 + 1/8
        assert abroca(np.array([1.0, 0, 1, 0, 1, 0]), np.array([0.8, 0.6, 0.4, 0.2, 0.5, 0.5]),
                      np.array([True, True, True, True, False, False])) == pytest.approx(0.25)
        assert abroca(Y, P, IN_A[STUDENT]) > 0


def test_permutation_critical_value_inverts_the_p_value_exactly() -> None:
    """p = (1 + #{null >= x}) / (1 + B) <= alpha  <=>  x > critical value, for every B, alpha and x
    (including x equal to a null value); checked with integer arithmetic (alpha in percent)."""
    rng = np.random.default_rng(3)
    for n_perm in range(1, 31):
        null = rng.integers(0, 6, n_perm) / 5  # many ties
        for pct in (5, 10, 20, 25, 50, 80):
            critical = permutation_critical_value(null, pct / 100)
            for x in np.r_[null, -0.1, 0.5, 1.1]:
                rejects = 100 * (1 + np.sum(null >= x)) <= pct * (1 + n_perm)
                assert rejects == (x > critical), (n_perm, pct, x, critical)


def test_abroca_test_equals_abroca_on_tied_scores_and_labels_of_one_half() -> None:
    """The sorted-once weighted path must give `abroca`'s value: ties off the top, a lone lowest row,
    labels of exactly 0.5 (positive), boolean predictions and a 0/1 integer group indicator."""
    y = np.where(Y == 1, 0.5, Y)
    for preds in (P, P >= 0.5):
        expected = abroca(Y, preds, IN_A[STUDENT])
        labels_of_one_half = abroca_test(y, preds, STUDENT, IN_A, n_permutations=5, n_boot=5)
        integer_groups = abroca_test(Y, preds, STUDENT, IN_A.astype(int), n_permutations=5, n_boot=5)
        assert labels_of_one_half.value == pytest.approx(expected, abs=1e-15)
        assert integer_groups.value == pytest.approx(expected, abs=1e-15)


def test_abroca_test_defaults_equal_a_recomputation_from_permutations_and_resamples() -> None:
    """Defaults (200 permutations, 200 resamples, seed 0): the p-value counts the permuted ABROCAs that
    reach the observed one (ties included: with 4 students most permutations repeat a partition), the SE
    and the upper bound are the SD and the 97.5th percentile of the bootstrap ABROCAs."""
    result = abroca_test(Y, P, STUDENT, IN_A)
    observed = abroca(Y, P, IN_A[STUDENT])
    rng = np.random.default_rng(0)
    null = np.array([abroca(Y, P, rng.permutation(IN_A)[STUDENT]) for _ in range(200)])
    ties = np.isclose(null, observed, rtol=0, atol=1e-9)
    assert ties.sum() > 20  # the case exercises exact ties
    assert result.n_permutations == 200
    assert result.p_value == pytest.approx((1 + np.sum((null > observed) | ties)) / 201, rel=1e-12)
    weights = np.vstack(list(bootstrap_weights(4, 200, 0)))
    boot = np.array([_abroca_of_resample(w, IN_A) for w in weights])
    finite = boot[np.isfinite(boot)]
    assert finite.size >= 20
    assert result.se == pytest.approx(np.std(finite, ddof=1), rel=1e-9)
    assert result.ci_high == pytest.approx(max(observed, np.percentile(finite, 97.5)), rel=1e-9)
    assert (result.ci_low == 0.0) == (result.p_value > 0.05)
    # the distributions it returns (for the gate's tests): sorted, finite, the same values
    np.testing.assert_allclose(result.null, np.sort(null), rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.boot, np.sort(finite), rtol=0, atol=1e-12)
    assert p_above(result.value, result.null, 0.0) == result.p_value  # at bound 0, the permutation p-value


def test_interval_starts_at_zero_when_the_observed_value_ties_the_critical_value() -> None:
    """With 39 permutations the critical value at 5% is the 2nd largest permuted ABROCA; here it equals
    the observed value (partitions repeat), so the test does not reject and the lower bound is exactly 0."""
    result = abroca_test(Y, P, STUDENT, IN_A, n_permutations=39, n_boot=40)
    rng = np.random.default_rng(0)
    null = np.array([abroca(Y, P, rng.permutation(IN_A)[STUDENT]) for _ in range(39)])
    assert np.sort(null)[-2] == pytest.approx(result.value, abs=1e-12)
    assert result.p_value > 0.05
    assert result.ci_low == 0.0


def test_abroca_test_with_a_one_class_group_is_all_nan() -> None:
    y = np.where(IN_A[STUDENT], 1.0, Y)  # group A answered everything correctly: no ROC curve
    result = abroca_test(y, P, STUDENT, IN_A, n_permutations=19, n_boot=30)
    assert np.isnan([result.value, result.p_value, result.ci_low, result.ci_high, result.se]).all()


def test_too_few_finite_resamples_give_no_interval() -> None:
    """Below 20 usable bootstrap ABROCAs no percentile interval or SE is read off (NaN), p stays defined."""
    result = abroca_test(Y, P, STUDENT, IN_A, n_permutations=19, n_boot=10)
    assert np.isfinite(result.value) and np.isfinite(result.p_value)
    assert np.isnan([result.ci_low, result.ci_high, result.se]).all()


def test_permutations_leaving_a_group_with_one_class_never_count_as_reaching_the_observed_value() -> None:
    """Group A is one student with a perfect ranking; 24 of the other 39 students answered all right or all
    wrong, so most permutations give A a single class (ABROCA undefined). Those count neither in the
    p-value nor in the critical value: the test rejects and the lower bound is above 0."""
    n = 40
    student = np.repeat(np.arange(n), 2)
    rng = np.random.default_rng(5)
    one_class = np.repeat(np.arange(1, 25) % 2, 2).astype(float)
    y = np.r_[1.0, 0.0, one_class, np.tile([1.0, 0.0], 15)]
    p = np.r_[0.9, 0.1, rng.random(48), np.full(30, 0.5)]  # the 15 mixed students are scored 0.5 (tied)
    in_a = np.arange(n) == 0
    result = abroca_test(y, p, student, in_a, n_permutations=39, n_boot=60, random_state=3)
    perm = np.random.default_rng(3)
    null = np.array([abroca(y, p, perm.permutation(in_a)[student]) for _ in range(39)])
    assert np.isnan(null).sum() >= 10
    assert result.p_value == pytest.approx((1 + np.sum(null >= result.value - 1e-9)) / 40)
    assert result.p_value <= 0.05
    assert result.ci_low > 0.0


def test_upper_bound_is_the_bootstrap_97_5th_percentile_on_continuous_scores() -> None:
    """30 students with continuous scores: the bootstrap ABROCAs are spread out, so the 97.5th percentile
    (not the 98.3rd or 98.5th) is pinned down, and it lies above the observed value."""
    rng = np.random.default_rng(8)
    student = np.repeat(np.arange(30), 4)
    in_a = np.arange(30) < 15
    y = (rng.random(student.size) < 0.5).astype(float)
    p = 1 / (1 + np.exp(-(np.where(in_a[student], 1.5, 0.5) * (y - 0.5) + rng.normal(size=y.size))))
    result = abroca_test(y, p, student, in_a, n_permutations=9, n_boot=100, random_state=2)
    weights = np.vstack(list(bootstrap_weights(30, 100, 2)))
    boot = []
    for w in weights:
        times = w[student].astype(int)
        rows_a = np.repeat(in_a[student], times)
        boot.append(abroca(np.repeat(y, times), np.repeat(p, times), rows_a))
    upper = np.percentile(np.array(boot), 97.5)
    assert upper > result.value
    assert result.ci_high == pytest.approx(upper, rel=1e-9)
    assert result.se == pytest.approx(np.std(boot, ddof=1), rel=1e-9)


def test_p_above_and_p_below_at_their_boundaries() -> None:
    """Counted by hand: a permuted value exactly at `value - bound` reaches it (within rounding), a bootstrap
    value exactly at the bound reaches it, an estimate exactly at the bound gives 1; lists of ints are accepted."""
    null = [0, 1, 2, 3, 4]  # tenths, as ints: also checks the conversion to float
    assert p_above(3.0, null, 0.0) == pytest.approx((1 + 2) / 6)  # 3 and 4 reach 3
    assert p_above(0.3, np.array(null) / 10, 0.1) == pytest.approx((1 + 3) / 6)  # 0.2 (= 0.3 - 0.1 in floats), 0.3, 0.4
    assert p_above(5.0, null, 0.0) == pytest.approx(1 / 6)
    assert p_above(1.0, [], 0.0) == 1.0
    boot = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert p_below(3.0, boot, 7.0) == pytest.approx((1 + 3) / 10)  # 7, 8, 9 reach the bound
    assert p_below(7.0, boot, 7.0) == 1.0  # the estimate itself is at the bound
    assert p_below(0.0, boot, 9.5) == pytest.approx(1 / 10)


def test_p_above_inverts_the_lower_bound() -> None:
    """The lower bound is the smallest bound the permutation shift test does not reject at 5%."""
    result = abroca_test(Y, P, STUDENT, IN_A, n_permutations=39, n_boot=40, random_state=4)
    rng = np.random.default_rng(8)
    student = np.repeat(np.arange(30), 4)
    in_a = np.arange(30) < 15
    y = (rng.random(student.size) < 0.5).astype(float)
    p = 1 / (1 + np.exp(-(np.where(in_a[student], 3.0, 0.2) * (y - 0.5) + rng.normal(size=y.size))))
    different = abroca_test(y, p, student, in_a, n_permutations=39, n_boot=40, random_state=4)
    assert different.ci_low > 0.0
    for r in (result, different):
        assert p_above(r.value, r.null, r.ci_low) > 0.05
        if r.ci_low > 0:
            assert p_above(r.value, r.null, r.ci_low - 1e-9) <= 0.05
