"""experiments.service_learning drives the service's runtime as the HTTP routes do: with follow-up learning on, the
service counts one outcome per list whose first entry (the one the simulated student takes) could be measured;
switched off, none."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.simulate.suite import setting_by_name
from experiments.service_learning import drive

STUDENTS, STEPS = 12, 16


def test_the_service_counts_one_outcome_per_measurable_list_and_none_when_frozen() -> None:
    catalog, setting = load_catalog(None), setting_by_name("bkt")
    gains, counted, measurable = drive(setting, catalog, STUDENTS, STEPS, 1, 300, learning=True)
    assert gains.shape == (STUDENTS,) and 0 < measurable < STUDENTS * STEPS  # placement questions are not measurable
    assert counted == measurable
    frozen_gains, frozen, measurable_frozen = drive(setting, catalog, STUDENTS, STEPS, 1, 300, learning=False)
    assert frozen == 0 and measurable_frozen > 0
    again, _, _ = drive(setting, catalog, STUDENTS, STEPS, 1, 300, learning=False)  # the service's draws are seeded
    assert np.array_equal(again, frozen_gains)
