"""Behaviours of engine/fairness/stats.py the mutation run showed untested, against independent truths.

References: scipy.special (expit, logit), scipy.stats (binom, norm), statsmodels' Logit, and the
first-order (KKT) conditions of the penalised likelihood that `fit_logistic` documents.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import special
from scipy import stats as sps

from engine.errors import ConfigError
from engine.fairness.stats import adjust_pvalues, bernoulli_loglik, bootstrap_weights, fit_logistic, logit, normal_quantile


def _data(n: int = 400, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A design whose true slope (2.5) is well above 1 and an outcome drawn from it."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (rng.random(n) < special.expit(X @ np.array([-0.5, 2.5]))).astype(float)
    return X, y


def test_newton_converges_quadratically_to_the_statsmodels_fit() -> None:
    X, y = _data()
    ref = sm.Logit(y, X).fit(disp=0)
    fit = fit_logistic(X, y, max_iter=12)  # exact Newton from the log-odds start needs well under 12 steps
    assert fit.converged is True
    assert fit.coef == pytest.approx(ref.params, rel=1e-8)
    assert fit.predict(X) == pytest.approx(ref.predict(X), rel=1e-8)
    assert fit.predict(X) == pytest.approx(special.expit(X @ ref.params), rel=1e-8)


def test_a_fit_stopped_early_says_it_did_not_converge() -> None:
    X, y = _data()
    assert fit_logistic(X, y, max_iter=1).converged is False


def test_ridge_leaves_the_intercept_free_and_satisfies_the_penalised_score_equations() -> None:
    # maximiser of loglik - ridge/2 * beta_1^2: X0'(y - p) = 0 (intercept unpenalised), X1'(y - p) = ridge * beta_1
    X, y = _data()
    ridge = 40.0
    fit = fit_logistic(X, y, ridge=ridge, max_iter=20)
    resid = y - special.expit(X @ fit.coef)
    assert fit.converged is True
    assert X[:, 0] @ resid == pytest.approx(0.0, abs=1e-8)
    assert X[:, 1] @ resid == pytest.approx(ridge * fit.coef[1], rel=1e-8)
    assert abs(fit.coef[1]) < abs(sm.Logit(y, X).fit(disp=0).params[1])  # shrunk towards 0


def test_a_singular_design_still_fits_through_least_squares_steps() -> None:
    # a duplicated column makes the Hessian exactly singular; the fitted probabilities are those of the
    # model without the duplicate (statsmodels), the duplicated slope split between the two columns
    X, y = _data()
    fit = fit_logistic(np.column_stack([X, X[:, 1]]), y)
    ref = sm.Logit(y, X).fit(disp=0)
    assert fit.coef[1] + fit.coef[2] == pytest.approx(ref.params[1], rel=1e-7)
    assert fit.loglik == pytest.approx(ref.llf, rel=1e-10)


@pytest.mark.parametrize("outcome", [0.0, 1.0])
def test_all_one_outcome_gives_a_finite_near_perfect_fit(outcome: float) -> None:
    # the likelihood's supremum is 1 (log 0) and is not attained: the fit must stay finite and approach it
    X = np.ones((30, 1))
    fit = fit_logistic(X, np.full(30, outcome))
    assert np.isfinite(fit.coef).all() and math.isfinite(fit.loglik)
    assert -1e-3 < fit.loglik <= 0.0
    assert np.sign(fit.coef[0]) == (1 if outcome else -1)


def test_bernoulli_loglik_equals_binomial_logpmf_without_the_coefficient() -> None:
    k, n, p = np.array([0, 3, 7]), np.array([5, 9, 7]), np.array([0.2, 0.45, 0.9])
    expected = sps.binom.logpmf(k, n, p) - np.log(special.comb(n, k))
    assert bernoulli_loglik(k, n, p) == pytest.approx(expected, rel=1e-12)


def test_bernoulli_loglik_clips_certain_probabilities_at_1e_minus_12() -> None:
    k, n = np.array([0, 2, 1, 0]), np.array([2, 2, 1, 1])
    got = bernoulli_loglik(k, n, np.array([0.0, 1.0, 0.0, 1.0]))
    log_eps = math.log(1e-12)
    assert got[:2] == pytest.approx([2 * math.log1p(-1e-12)] * 2, abs=1e-15)  # right and certain: ~0
    assert got[2:] == pytest.approx([log_eps, log_eps], rel=1e-5)  # wrong and certain (1 - (1 - 1e-12) rounds)


def test_logit_matches_scipy_inside_and_clips_at_1e_minus_6() -> None:
    p = np.array([0.02, 0.3, 0.5, 0.97])
    assert logit(p) == pytest.approx(special.logit(p), rel=1e-12)
    assert logit([0.0, 1.0]) == pytest.approx([special.logit(1e-6), special.logit(1 - 1e-6)], rel=1e-9)


@pytest.mark.parametrize("confidence, critical", [(0.95, 1.959963984540054), (0.9, 1.6448536269514722),
                                                  (0.5, 0.6744897501960817)])
def test_normal_quantile_is_the_two_sided_critical_value(confidence: float, critical: float) -> None:
    assert normal_quantile(confidence) == pytest.approx(critical, rel=1e-12)
    assert normal_quantile(confidence) == pytest.approx(sps.norm.isf((1 - confidence) / 2), rel=1e-12)


def test_method_none_returns_the_p_values_unchanged_and_keeps_nan() -> None:
    p = np.array([0.04, np.nan, 0.3])
    assert adjust_pvalues(p, "none") == pytest.approx(p, nan_ok=True)


def test_adjustments_skip_nan_entries_by_hand() -> None:
    # two real p-values (m = 2): Holm 0.01 * 2 = 0.02, then max(0.02, 0.04 * 1) = 0.04
    got = adjust_pvalues(np.array([0.01, np.nan, 0.04]), "holm")
    assert got == pytest.approx([0.02, np.nan, 0.04], nan_ok=True)


def test_an_unknown_method_is_refused_with_the_valid_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown multiple-comparison method 'sidak'; choose one of: holm, bh, "
                                          r"bonferroni, none"):
        adjust_pvalues(np.array([0.1, 0.2]), "sidak")


@pytest.mark.parametrize("n_boot", [1, 9, 10, 11, 29, 30])
def test_bootstrap_yields_exactly_n_boot_resamples_in_non_empty_chunks_of_ten(n_boot: int) -> None:
    chunks = list(bootstrap_weights(7, n_boot, random_state=0))
    assert [c.shape[0] for c in chunks] == [10] * (n_boot // 10) + ([n_boot % 10] if n_boot % 10 else [])


def test_every_unit_is_drawn_with_mean_multiplicity_one() -> None:
    # with replacement, each of 5 units has expected multiplicity 1 (sd 0.89 per resample, 0.04 over 500)
    weights = np.vstack(list(bootstrap_weights(5, 500, random_state=1)))
    assert weights.mean(axis=0) == pytest.approx(np.ones(5), abs=0.2)
