"""`LogisticKT.fit` with a scikit-learn solver (models/logistic/estimator.py): the module docstring says any
`solver` other than "newton" is passed to scikit-learn's `LogisticRegression` with `C`, `max_iter` and `tol`,
on the same objective as this package's Newton fit. Checked against that Newton fit at a non-default C,
scikit-learn's own refusal of an unknown solver name, and its iteration cap.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from models.logistic.classic import AFM


def small_log(n_students: int = 40, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    items = {"i1": ["k1"], "i2": ["k1", "k2"], "i3": ["k2"], "i4": ["k3"]}
    rows = []
    for s in range(n_students):
        for t in range(6):
            item = str(rng.choice(list(items)))
            rows.append((f"s{s}", item, items[item], float(rng.random() < 0.3 + 0.08 * t), t))
    return pl.DataFrame(rows, schema={"student_id": pl.Utf8, "item_id": pl.Utf8, "skill_ids": pl.List(pl.Utf8),
                                      "correct": pl.Float64, "seq": pl.Int64}, orient="row")


def test_a_scikit_learn_solver_fits_the_same_objective_at_a_non_default_C() -> None:
    frame = small_log()
    newton = AFM(C=0.05, tol=1e-10).fit(frame)
    lbfgs = AFM(C=0.05, solver="lbfgs", tol=1e-12, max_iter=10000).fit(frame)
    default_c = AFM(tol=1e-10).fit(frame)
    assert np.abs(newton.coef_ - default_c.coef_).max() > 0.05  # C = 0.05 is far from the default 1
    np.testing.assert_allclose(lbfgs.coef_, newton.coef_, atol=1e-4)
    assert lbfgs.intercept_ == pytest.approx(newton.intercept_, abs=1e-4)


def test_the_solver_name_reaches_scikit_learn() -> None:
    with pytest.raises(ValueError, match="solver"):
        AFM(solver="no-such-solver").fit(small_log())


def test_max_iter_reaches_scikit_learn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning: one iteration is not enough
        model = AFM(solver="lbfgs", max_iter=1, tol=1e-12).fit(small_log())
    assert model.n_iter_ == 1
