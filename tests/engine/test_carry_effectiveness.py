"""experiments.carry_effectiveness's `serve` starts the policy's resource statistics where it says and learns (or not)
from every step: counts checked against the number of steps served."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate.suite import setting_by_name
from experiments.carry_effectiveness import serve

STUDENTS, STEPS = 12, 3


def test_serve_starts_from_the_given_statistics_and_learns_one_outcome_per_step() -> None:
    catalog = load_catalog(None)
    setting = setting_by_name("bkt")
    world = setting.world(catalog, STUDENTS, 1)
    engine = MasteryEngine(catalog)
    gains, learned = serve(world, setting, engine, None, STEPS)
    assert gains.shape == (STUDENTS,) and learned.count.sum() == STUDENTS * STEPS  # every step's answer observed
    _, carried = serve(world, setting, engine, None, STEPS, start=learned)
    assert carried.count.sum() == 2 * STUDENTS * STEPS
    assert np.all(carried.count >= learned.count) and learned.count.sum() == STUDENTS * STEPS  # the start is not mutated
    _, frozen = serve(world, setting, engine, None, STEPS, frozen=True)
    assert frozen.count.sum() == 0
