"""Statistical helpers against statsmodels and exact properties."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from engine.fairness.stats import adjust_pvalues, bootstrap_weights, fit_logistic


@pytest.mark.parametrize("ours, theirs", [("holm", "holm"), ("bh", "fdr_bh"), ("bonferroni", "bonferroni")])
def test_adjusted_pvalues_equal_statsmodels(ours: str, theirs: str) -> None:
    p = np.random.default_rng(0).random(30) ** 3
    with_nan = np.r_[p[:10], np.nan, p[10:]]
    got = adjust_pvalues(with_nan, ours)
    assert np.isnan(got[10])
    assert np.r_[got[:10], got[11:]] == pytest.approx(multipletests(p, method=theirs)[1], rel=1e-12)


def test_logistic_fit_equals_statsmodels_on_raw_and_grouped_rows() -> None:
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(500), rng.normal(size=500), rng.random(500) < 0.3])
    y = (rng.random(500) < 1 / (1 + np.exp(-(X @ np.array([-0.3, 1.0, 0.7]))))).astype(float)
    ref = sm.Logit(y, X).fit(disp=0)
    ours = fit_logistic(X, y)
    assert ours.coef == pytest.approx(ref.params, rel=1e-8)
    assert ours.loglik == pytest.approx(ref.llf, rel=1e-10)
    # the same rows collapsed into (covariate pattern, successes, trials) give the same fit and log-likelihood
    Xg = np.column_stack([np.ones(4), [0, 0, 1, 1], [0, 1, 0, 1]])
    s, m = np.array([3, 5, 7, 2]), np.array([10, 9, 12, 4])
    raw_X = np.repeat(Xg, m, axis=0)
    raw_y = np.concatenate([np.r_[np.ones(k), np.zeros(t - k)] for k, t in zip(s, m)])
    grouped, raw = fit_logistic(Xg, s, m), sm.Logit(raw_y, raw_X).fit(disp=0)
    assert grouped.coef == pytest.approx(raw.params, rel=1e-8)
    assert grouped.loglik == pytest.approx(raw.llf, rel=1e-10)


def test_bootstrap_weights_resample_whole_units_reproducibly() -> None:
    chunks = list(bootstrap_weights(50, 25, random_state=3))
    weights = np.vstack(chunks)
    assert weights.shape == (25, 50)
    assert np.all(weights.sum(axis=1) == 50)
    assert np.array_equal(weights, np.vstack(list(bootstrap_weights(50, 25, random_state=3))))
    assert np.array_equal(weights[:10], np.vstack(list(bootstrap_weights(50, 10, random_state=3))))
