"""ABROCA against hand-computed areas and direct numerical integration; its permutation test."""

from __future__ import annotations

import numpy as np
import pytest

from engine.fairness.roc import abroca, abroca_test, area_between, roc_curve


def _pair(pos_a, neg_a, pos_b, neg_b):
    y = np.r_[np.ones(len(pos_a)), np.zeros(len(neg_a)), np.ones(len(pos_b)), np.zeros(len(neg_b))]
    p = np.r_[pos_a, neg_a, pos_b, neg_b]
    in_a = np.r_[np.ones(len(pos_a) + len(neg_a), bool), np.zeros(len(pos_b) + len(neg_b), bool)]
    return y, p, in_a


def test_perfect_against_inverted_ranking_is_the_whole_square() -> None:
    # A: ROC (0,0)-(0,1)-(1,1); B: (0,0)-(1,0)-(1,1)
    assert abroca(*_pair([0.9], [0.1], [0.1], [0.9])) == pytest.approx(1.0)


def test_perfect_against_all_tied_is_half() -> None:
    # B's scores are all tied: its ROC is the diagonal; the area between y = 1 and y = x is 1/2
    assert abroca(*_pair([0.9, 0.8], [0.2, 0.1], [0.5, 0.5], [0.5, 0.5])) == pytest.approx(0.5)


def test_curves_crossing_inside_a_segment() -> None:
    # A: a tie of 2 positives and 1 negative, then a negative -> (0,0)-(0.5,1)-(1,1)
    # B: a positive, then a tie of 1 positive and 2 negatives -> (0,0)-(0,0.5)-(1,1)
    # on [0,0.5] A - B = 1.5x - 0.5 crosses 0 at 1/3: 1/12 + 1/48; on [0.5,1]: 1/16; total 1/6
    y, p, in_a = _pair([0.9, 0.9], [0.9, 0.1], [0.9, 0.5], [0.5, 0.5])
    assert abroca(y, p, in_a) == pytest.approx(1 / 6)


def test_equals_fine_grid_numerical_integration_on_random_scores() -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = (rng.random(n) < 0.5).astype(float)
    in_a = rng.random(n) < 0.5
    p = np.round(np.where(in_a, 0.8 * y + rng.normal(scale=0.5, size=n), 0.4 * y + rng.normal(scale=0.5, size=n)), 2)
    grid = np.linspace(0, 1, 400_001)
    fa, ta = roc_curve(y[in_a], p[in_a])
    fb, tb = roc_curve(y[~in_a], p[~in_a])
    numeric = np.trapezoid(np.abs(np.interp(grid, fa, ta) - np.interp(grid, fb, tb)), grid)
    assert abroca(y, p, in_a) == pytest.approx(numeric, abs=2e-5)
    assert area_between(fa, ta, fb, tb) == pytest.approx(area_between(fb, tb, fa, ta))


def test_permutation_test_separates_real_from_chance_differences() -> None:
    rng = np.random.default_rng(1)
    students, rows = 120, 10
    student = np.repeat(np.arange(students), rows)
    in_a = np.arange(students) < 60
    y = (rng.random(student.size) < 0.5).astype(float)
    signal = np.where(in_a[student], 2.0, 0.3)  # the model discriminates far better for group A
    p = 1 / (1 + np.exp(-(signal * (y - 0.5) + rng.normal(size=y.size))))
    different = abroca_test(y, p, student, in_a, n_permutations=200, n_boot=50)
    assert different.p_value < 0.01
    assert different.ci_low <= different.value <= different.ci_high
    same = 1 / (1 + np.exp(-(1.0 * (y - 0.5) + rng.normal(size=y.size))))
    chance = abroca_test(y, same, student, in_a, n_permutations=200, n_boot=50)
    assert chance.p_value > 0.05
    assert chance.ci_low == 0.0 < different.ci_low  # the interval agrees with the test


def test_hand_made_case_equals_numerical_integration_of_independent_roc_curves() -> None:
    """ROC curves from scikit-learn (not our code) on a small hand-made case with ties, integrated on a fine grid."""
    from sklearn.metrics import roc_curve as sk_roc_curve

    # group A: a good ranking with one tie across classes; group B: a weaker ranking with several ties
    y_a = np.array([1, 1, 1, 0, 1, 0, 0, 0, 1, 0], dtype=float)
    p_a = np.array([0.95, 0.9, 0.7, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    y_b = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1], dtype=float)
    p_b = np.array([0.9, 0.9, 0.8, 0.6, 0.6, 0.6, 0.5, 0.4, 0.4, 0.3, 0.2, 0.1])
    grid = np.linspace(0.0, 1.0, 2_000_001)

    def curve(y: np.ndarray, p: np.ndarray) -> np.ndarray:
        fpr, tpr, _ = sk_roc_curve(y, p, drop_intermediate=False)
        return np.interp(grid, fpr, tpr)  # ROC curves have no vertical jumps inside (0, 1) at a tie: linear

    numeric = np.trapezoid(np.abs(curve(y_a, p_a) - curve(y_b, p_b)), grid)
    y, p = np.r_[y_a, y_b], np.r_[p_a, p_b]
    in_a = np.r_[np.ones(y_a.size, bool), np.zeros(y_b.size, bool)]
    assert abroca(y, p, in_a) == pytest.approx(numeric, abs=1e-6)


def _binormal_abroca(d_a: float, d_b: float) -> float:
    """True ABROCA of two binormal ROC curves TPR = Phi(d + Phi^-1(FPR)), by quadrature (independent of our code)."""
    from scipy import integrate, stats

    def gap(x: float) -> float:
        return abs(stats.norm.cdf(d_a + stats.norm.ppf(x)) - stats.norm.cdf(d_b + stats.norm.ppf(x)))

    return integrate.quad(gap, 0, 1, limit=200)[0]


def _clustered_sample(rng: np.random.Generator, per_group: int, rows: int, d_a: float, d_b: float):
    """Students of two groups, `rows` answers each; score = d * y + student effect + noise (both N(0, 1/2)),
    so the ROC of each group is binormal with separation d (the scores' SD given y is 1)."""
    student = np.repeat(np.arange(2 * per_group), rows)
    in_a = np.arange(2 * per_group) < per_group
    y = (rng.random(student.size) < 0.5).astype(float)
    score = np.where(in_a[student], d_a, d_b) * y + rng.normal(scale=np.sqrt(0.5), size=2 * per_group)[student]
    return y, score + rng.normal(scale=np.sqrt(0.5), size=y.size), student, in_a


def test_interval_covers_zero_at_the_nominal_rate_and_agrees_with_the_p_value_under_the_null() -> None:
    """Two groups served alike (true ABROCA 0): the 95% interval must contain 0 in 95% +/- 3% of 240
    replicates, and contain it exactly when the permutation p-value is above 0.05."""
    rng = np.random.default_rng(20)
    results = [abroca_test(*_clustered_sample(rng, 25, 4, 1.0, 1.0), n_permutations=39, n_boot=20, random_state=k)
               for k in range(240)]
    covers_zero = np.array([r.ci_low <= 0.0 <= r.ci_high for r in results])
    assert 0.92 <= covers_zero.mean() <= 0.98
    assert all((r.ci_low == 0.0) == (r.p_value > 0.05) for r in results)
    assert all(r.ci_low <= r.value <= r.ci_high for r in results)


def test_interval_covers_the_true_abroca_of_two_different_groups() -> None:
    """Group A's ranking is far better (binormal separations 2.0 vs 0.5): the true ABROCA comes from
    quadrature of the two population curves; the 95% interval must hold it in >= 90% of 100 replicates."""
    truth = _binormal_abroca(2.0, 0.5)
    big = np.random.default_rng(0)
    y, score, student, in_a = _clustered_sample(big, 20_000, 10, 2.0, 0.5)  # the same truth, read off a huge sample
    assert abroca(y, score, in_a[student]) == pytest.approx(truth, abs=0.005)
    rng = np.random.default_rng(21)
    results = [abroca_test(*_clustered_sample(rng, 40, 5, 2.0, 0.5), n_permutations=39, n_boot=40, random_state=k)
               for k in range(100)]
    covered = np.mean([r.ci_low <= truth <= r.ci_high for r in results])
    assert covered >= 0.90
    assert np.mean([r.ci_low > 0 for r in results]) > 0.9  # and the difference is detected
