"""experiments.posterior_knowledge's variants take away what they say from the posterior reference, and only there:
its particles' resources at their kind-at-level mean quality, or their forgetting at a fifth; the world's own learners
untouched."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate.posterior import PosteriorPolicy
from engine.simulate.suite import setting_by_name
from experiments.posterior_knowledge import forgetting_a_fifth, kind_level_means, reference_knowing

CATALOG = load_catalog(None)


def test_forgetting_a_fifth_takes_each_familys_own_rate() -> None:
    forgetful = setting_by_name("bkt-forgetful")  # forget 0.01 in the setting
    curve = setting_by_name("curve")  # the family's default decay
    world = forgetful.world(CATALOG, 5, 1)
    assert forgetting_a_fifth(forgetful)(world).forget == 0.2 * 0.01
    assert forgetting_a_fifth(curve)(world).decay == 0.2 * curve.learners(world).decay
    assert forgetting_a_fifth(forgetful)(world).base_learn == forgetful.learners(world).base_learn  # the rest kept


def test_kind_level_means_average_each_kind_at_its_level_by_hand() -> None:
    quality = np.array([1.0, 3.0, 2.0, 10.0, 5.0, 7.0])
    kind = np.array([0, 0, 0, 1, 1, 0])
    level = np.array([0, 0, 1, 0, 0, 1])
    # clusters: (kind 0, level 0) = {1, 3} -> 2; (0, 1) = {2, 7} -> 4.5; (1, 0) = {10, 5} -> 7.5
    np.testing.assert_allclose(kind_level_means(quality, kind, level), [2.0, 2.0, 4.5, 7.5, 7.5, 4.5])


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
    by_cluster = {}
    for r in range(CATALOG.n_resources):  # the kind-at-level means, counted apart from the function
        by_cluster.setdefault((CATALOG.resource_kind[r], CATALOG.resource_level[r]), []).append(world.quality[r])
    expected = [np.mean(by_cluster[(CATALOG.resource_kind[r], CATALOG.resource_level[r])]) for r in range(CATALOG.n_resources)]
    np.testing.assert_allclose(flat.cloud.world.quality, expected)
    assert np.ptp(flat.cloud.world.quality) > 0  # kinds differ, so the variant keeps what the log can measure
    np.testing.assert_array_equal(full.cloud.world.quality, world.quality)
    assert (forgets_less.cloud.forget, full.cloud.forget) == (0.2 * 0.01, 0.01)
    np.testing.assert_array_equal(forgets_less.cloud.world.quality, world.quality)
