"""Simulator: ground truth behaves as specified (groups differ only in starting opportunity, answers are
sampled, knowledge decays without practice), runs are deterministic under a seed, the gain is Hake's g,
and at small scale the equilearn policy out-learns random and the fixed curriculum on both families."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.catalog.schema import CORE
from engine.simulate import BKTLearners, CurveLearners, GroupSpec, make_world, normalized_gain, run_policy
from engine.simulate.policies import default_resources


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


def test_groups_differ_in_starting_knowledge_not_in_learning_rate(catalog) -> None:
    groups = (GroupSpec("high", 0.5, 0.6), GroupSpec("low", 0.5, -0.6))
    world = make_world(catalog, 6000, seed=5, groups=groups)
    high, low = world.group == 0, world.group == 1
    assert abs(high.mean() - 0.5) < 0.03
    assert world.known0[high].mean() > world.known0[low].mean() + 0.1
    # learning rate: lognormal(0, 0.3) for everyone; the group means agree within 4 standard errors
    se = world.rate.std() * np.sqrt(1 / high.sum() + 1 / low.sum())
    assert abs(world.rate[high].mean() - world.rate[low].mean()) < 4 * se


def test_bkt_answers_are_sampled_from_guess_and_slip_not_thresholded(catalog) -> None:
    world = make_world(catalog, 4000, seed=2)
    learners = BKTLearners(world)
    learners.forget = 0.0
    learners.state[:] = True  # everyone knows everything: answers should still show slips
    item = catalog.item_index("gcf-05")
    rng = np.random.default_rng(0)
    correct = learners.step(np.full(4000, default_resources(catalog, CORE)[catalog.skill_index("gcf")]),
                            np.full(4000, item), rng)
    expected = 1.0 - learners.slip[item]
    assert abs(correct.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / 4000)
    assert 0.0 < correct.mean() < 1.0


def test_curve_learners_gain_with_practice_and_decay_without(catalog) -> None:
    world = make_world(catalog, 500, seed=3)
    learners = CurveLearners(world)
    s = catalog.skill_index("add_whole")
    other = catalog.skill_index("systems") if "systems" in catalog.skill_ids else catalog.n_skills - 1
    before = learners.theta.copy()
    resources = np.full(500, default_resources(catalog, CORE)[s])
    items = np.full(500, catalog.items_by_skill[s, 0])
    for _ in range(5):
        learners.step(resources, items, np.random.default_rng(1))
    assert (learners.theta[:, s] > before[:, s]).all()  # practice moves every student up (learning curve)
    floor = learners.beta[other] - learners.floor_below  # unpractised: 0.2% of the distance to the floor per step
    assert np.allclose(learners.theta[:, other] - floor, (1 - learners.decay) ** 5 * (before[:, other] - floor))


def test_normalized_gain_is_hakes_g_on_means() -> None:
    initial, final = np.array([0.2, 0.4]), np.array([0.6, 0.7])
    assert normalized_gain(initial, final) == pytest.approx((0.65 - 0.3) / (1 - 0.3))
    assert np.isnan(normalized_gain(np.array([]), np.array([])))


def test_runs_are_deterministic_under_a_seed(catalog) -> None:
    world = make_world(catalog, 100, seed=9)
    a = run_policy(world, "bkt", "equilearn", 8, record_actions=True)
    b = run_policy(world, "bkt", "equilearn", 8, record_actions=True)
    assert np.array_equal(a.actions, b.actions) and np.array_equal(a.final, b.final)
    c = run_policy(make_world(catalog, 100, seed=10), "bkt", "equilearn", 8, record_actions=True)
    assert not np.array_equal(a.actions, c.actions)


@pytest.mark.parametrize("simulator", ["bkt", "irt"])
def test_equilearn_out_learns_random_and_the_curriculum_at_small_scale(catalog, simulator: str) -> None:
    world = make_world(catalog, 150, seed=21)
    gain = {p: normalized_gain(r.initial, r.final) for p in ("equilearn", "random", "curriculum")
            for r in [run_policy(world, simulator, p, 60)]}  # 60 steps: the first ~10 place each new student
    assert gain["equilearn"] > gain["random"] + 0.04 and gain["equilearn"] > gain["curriculum"] + 0.04, gain
