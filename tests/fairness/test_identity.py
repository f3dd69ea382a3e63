"""Identity-predictiveness test: detects group information beyond the prediction, and only then."""

from __future__ import annotations

import numpy as np

from engine.fairness.identity import identity_predictiveness


def _data(rng: np.random.Generator, group_effect: float, students: int = 300, per_student: int = 15):
    sid = np.repeat(np.arange(students), per_student)
    group = (rng.random(students) < 0.5)[sid]
    eta = rng.normal(size=students)[sid] + rng.normal(size=sid.size)
    p = 1 / (1 + np.exp(-eta))  # the model's prediction (knows nothing of the group)
    truth = 1 / (1 + np.exp(-(eta + group_effect * group)))
    y = (rng.random(sid.size) < truth).astype(float)
    return y, p, sid, group.astype(float)[:, None]


def test_detects_an_outcome_that_depends_on_group_beyond_the_prediction() -> None:
    y, p, sid, dummies = _data(np.random.default_rng(0), group_effect=0.5)
    result = identity_predictiveness(y, p, sid, dummies, n_boot=50)
    assert result.p_value < 0.01
    assert result.lr_stat > 0 and result.delta_logloss < 0
    assert result.delta_auc_ci[0] <= result.delta_auc <= result.delta_auc_ci[1]


def test_false_alarm_rate_is_controlled_when_group_adds_nothing() -> None:
    rng = np.random.default_rng(1)
    pvalues = [identity_predictiveness(*_data(rng, group_effect=0.0, students=200), n_boot=20, random_state=r).p_value
               for r in range(60)]
    assert np.mean(np.array(pvalues) < 0.05) <= 0.10  # nominal 0.05; the cross-fitted test is conservative
    assert np.mean(np.array(pvalues) < 0.01) <= 0.05
