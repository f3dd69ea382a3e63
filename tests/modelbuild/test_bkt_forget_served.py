"""The build fits its BKT with a forget term and serves it without one (engine.modelbuild.modelset.fit_components).
Independent truth: the suite's forgetful BKT world, whose items' slip probabilities are known. On its random-practice
log, a fit without the forget term reads forgetting as slips; with it, the fitted slips are nearer the world's, and
the served model's per-opportunity forget is 0 (the engine forgets by time)."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.modelbuild.data import prepare_log
from engine.simulate.suite import built_policy, random_practice_log, setting_by_name
from models.bkt import BKT


def test_forget_term_keeps_the_slips_and_is_not_served() -> None:
    catalog = load_catalog(None)
    setting = setting_by_name("bkt-forgetful")
    log = random_practice_log(setting, catalog, 300, 60, seed=10_001)
    true_slip = float(setting.learners(setting.world(catalog, 10, 1)).slip.mean())  # the world's items, as answered

    engine, _ = built_policy(catalog, log, seed=1)
    served = engine.skill_model.params
    assert np.all(np.asarray(served.forget) == 0.0)

    without = BKT(item_params=True, random_state=1).fit(prepare_log(catalog, log).responses)
    slip_without = float(np.mean(without.slip_[:-1]))  # the last entry is the pooled one
    slip_with = float(np.mean(np.asarray(served.slip)))
    assert slip_without - true_slip > 0.03  # forgetting read as slips
    assert abs(slip_with - true_slip) < abs(slip_without - true_slip) - 0.01
