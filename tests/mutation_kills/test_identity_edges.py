"""Edge cases of the identity-predictiveness test (engine/fairness/identity.py) that the mutation run showed untested.

Reference: the test re-implemented from its module docstring with plain numpy: folds of students from the
seeded permutation, the two recalibrations fitted by `fit_logistic` (checked against statsmodels in
tests/fairness/test_stats.py), the per-student log-likelihood differences, the one-sided z test, and AUCs
from scikit-learn (weighted by bootstrap multiplicity for the interval).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from engine.fairness.identity import RIDGE, identity_predictiveness
from engine.fairness.stats import bootstrap_weights, fit_logistic


def _reference(y, p, student, dummies, n_folds, n_boot, confidence, seed):
    n_students = int(student.max()) + 1
    fold = np.random.default_rng(seed).permutation(np.arange(n_students) % n_folds)[student]
    lp = np.log(p / (1 - p))
    base = np.column_stack([np.ones_like(lp), lp])
    aug = np.column_stack([base, dummies])
    qb, qa = np.empty_like(y), np.empty_like(y)
    for k in range(n_folds):
        test = fold == k
        if not test.any():
            continue
        qb[test] = fit_logistic(base[~test], y[~test], ridge=RIDGE).predict(base[test])
        qa[test] = fit_logistic(aug[~test], y[~test], ridge=RIDGE).predict(aug[test])
    d_row = (y * np.log(qa) + (1 - y) * np.log(1 - qa)) - (y * np.log(qb) + (1 - y) * np.log(1 - qb))
    d = np.bincount(student, weights=d_row, minlength=n_students)
    sd = d.std(ddof=1)
    z = d.mean() / (sd / math.sqrt(n_students)) if sd > 0 else 0.0
    label = y >= 0.5
    delta = roc_auc_score(label, qa) - roc_auc_score(label, qb)
    reps = []
    for w in np.concatenate(list(bootstrap_weights(n_students, n_boot, seed))):
        rw = w[student]
        keep = rw > 0
        try:
            reps.append(roc_auc_score(label[keep], qa[keep], sample_weight=rw[keep])
                        - roc_auc_score(label[keep], qb[keep], sample_weight=rw[keep]))
        except ValueError:
            pass
    reps = np.array(reps)
    tail = (1 - confidence) / 2 * 100
    return {"delta_auc": delta, "lr_stat": 2 * d.sum(), "p_value": float(stats.norm.sf(z)), "delta_logloss": -d_row.mean(),
            "ci": tuple(np.percentile(reps, [tail, 100 - tail])), "se": np.std(reps, ddof=1)}


def _data(seed: int, n_students: int = 60, per: int = 8, effect: float = 0.8):
    rng = np.random.default_rng(seed)
    student = np.repeat(np.arange(n_students), per)
    group = (np.arange(n_students) % 3)[student]
    p = rng.uniform(0.1, 0.9, student.size)
    logit = np.log(p / (1 - p)) + effect * (group == 1)
    y = (rng.random(student.size) < 1 / (1 + np.exp(-logit))).astype(float)
    dummies = np.column_stack([(group == 1), (group == 2)]).astype(float)
    return y, p, student, dummies


@pytest.mark.parametrize("n_folds, confidence, seed", [(5, 0.95, 0), (3, 0.8, 4), (7, 0.9, None)])
def test_equals_a_plain_reimplementation(n_folds: int, confidence: float, seed: int | None) -> None:
    y, p, student, dummies = _data(1)
    use_seed = 11 if seed is None else seed
    got = identity_predictiveness(y, p, student, dummies, n_folds=n_folds, n_boot=60, confidence=confidence,
                                  random_state=use_seed)
    want = _reference(y, p, student, dummies, n_folds, 60, confidence, use_seed)
    assert got.delta_auc == pytest.approx(want["delta_auc"], abs=1e-12)
    assert got.lr_stat == pytest.approx(want["lr_stat"]) and got.p_value == pytest.approx(want["p_value"])
    assert got.delta_logloss == pytest.approx(want["delta_logloss"])
    assert got.delta_auc_ci == pytest.approx(want["ci"]) and got.delta_auc_se == pytest.approx(want["se"])
    assert (got.n_students, got.n_rows, got.n_folds, got.n_group_parameters) == (60, 480, n_folds, 2)


def test_defaults_and_the_dictionary() -> None:
    y, p, student, dummies = _data(2, effect=0.0)
    got = identity_predictiveness(y, p, student, dummies)
    want = _reference(y, p, student, dummies, 5, 200, 0.95, 0)
    assert got.p_value == pytest.approx(want["p_value"]) and got.delta_auc_ci == pytest.approx(want["ci"])
    body = got.to_dict()
    assert body["delta_auc_ci"] == list(got.delta_auc_ci) and isinstance(body["delta_auc_ci"], list)
    assert set(body) == {"delta_auc", "delta_auc_ci", "delta_auc_se", "lr_stat", "p_value", "delta_logloss", "n_students",
                         "n_rows", "n_folds", "n_group_parameters"}


def test_more_folds_than_students_and_few_resamples() -> None:
    y, p, student, dummies = _data(3, n_students=4, per=30)
    got = identity_predictiveness(y, p, student, dummies, n_folds=6, n_boot=19)
    want = _reference(y, p, student, dummies, 6, 19, 0.95, 0)
    assert got.lr_stat == pytest.approx(want["lr_stat"])  # empty folds are skipped
    assert all(math.isnan(x) for x in got.delta_auc_ci) and math.isnan(got.delta_auc_se)  # fewer than 20 resamples
    enough = identity_predictiveness(y, p, student, dummies, n_folds=6, n_boot=20)
    assert not math.isnan(enough.delta_auc_se) and not math.isnan(enough.delta_auc_ci[0])


def test_no_group_columns_and_no_spread_give_a_p_of_one_half() -> None:
    y, p, student, _ = _data(4, n_students=20, per=5)
    none = identity_predictiveness(y, p, student, np.zeros((y.size, 0)), n_boot=20)
    assert none.n_group_parameters == 0
    assert none.lr_stat == pytest.approx(0.0, abs=1e-9) and none.p_value == 0.5  # identical fits: sd 0, z 0
    assert none.delta_auc == 0.0
