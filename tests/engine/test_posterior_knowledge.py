"""experiments.posterior_knowledge's variants take away what they say from the posterior reference, and only there:
its particles' resources at the mean quality, or their forgetting at a fifth; the world's own learners untouched."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate.posterior import PosteriorPolicy
from engine.simulate.suite import setting_by_name
from experiments.posterior_knowledge import forgetting_a_fifth, reference_knowing

CATALOG = load_catalog(None)


def test_forgetting_a_fifth_takes_each_familys_own_rate() -> None:
    forgetful = setting_by_name("bkt-forgetful")  # forget 0.01 in the setting
    curve = setting_by_name("curve")  # the family's default decay
    world = forgetful.world(CATALOG, 5, 1)
    assert forgetting_a_fifth(forgetful)(world).forget == 0.2 * 0.01
    assert forgetting_a_fifth(curve)(world).decay == 0.2 * curve.learners(world).decay
    assert forgetting_a_fifth(forgetful)(world).base_learn == forgetful.learners(world).base_learn  # the rest kept


def test_the_reference_loses_only_what_the_variant_takes() -> None:
    setting = setting_by_name("bkt-forgetful")
    world = setting.world(CATALOG, 4, 2)
    engine = MasteryEngine(CATALOG)
    spread = np.ptp(world.quality)
    assert spread > 0
    with reference_knowing(setting, qualities=False):
        flat = PosteriorPolicy.for_world(engine, setting.learners, world, 3)
    with reference_knowing(setting, forgetting=False):
        forgets_less = PosteriorPolicy.for_world(engine, setting.learners, world, 3)
    full = PosteriorPolicy.for_world(engine, setting.learners, world, 3)  # the patch is gone again
    np.testing.assert_allclose(flat.cloud.world.quality, world.quality.mean())
    np.testing.assert_array_equal(full.cloud.world.quality, world.quality)
    assert (forgets_less.cloud.forget, full.cloud.forget) == (0.2 * 0.01, 0.01)
    np.testing.assert_array_equal(forgets_less.cloud.world.quality, world.quality)
