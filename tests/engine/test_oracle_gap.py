"""experiments.oracle_gap's variants give the policy what they say: the true states where it reads the engine's beliefs
(and nowhere else), the oracle's item for the chosen skill, the oracle's resource with a random item of its skill, the
world's resource qualities in place of the measured values."""

from __future__ import annotations

import numpy as np

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.recommend.learning import DifficultyProgress
from engine.simulate.oracle import greedy_choice
from engine.simulate.runner import run_policy, simulated_ids
from engine.simulate.suite import OURS, setting_by_name
from experiments.oracle_gap import (KeptLearners, KnownStates, OracleSkills, knowing, knowing_resources, oracle_items,
                                  true_resource_values)
from experiments.resource_log_size import flat_values, rank_correlation

CATALOG = load_catalog(None)


def learners_of(name: str, students: int = 40) -> tuple[KeptLearners, object]:
    setting = setting_by_name(name)
    kept = KeptLearners(setting)
    world = setting.world(CATALOG, students, 3)
    kept.learners(world)
    return kept, world


def test_known_states_read_the_truth_by_student_id_and_leave_the_engine_alone() -> None:
    kept, world = learners_of("bkt")
    engine = MasteryEngine(CATALOG)
    batch = engine.new_batch(simulated_ids(world.n_students))
    view = KnownStates(engine, kept, world.n_students)
    part = batch.rows(np.array([5, 2, 31]))
    truth = world.known0[[5, 2, 31]].astype(float)  # the BKT learners start at the world's known skills
    np.testing.assert_array_equal(view.p_now(part), truth)
    np.testing.assert_array_equal(view.skill_success(part), truth)
    own = engine.p_now(part)
    assert not np.array_equal(own, truth)  # the engine keeps its own beliefs
    assert view.predict_pairs(part, np.array([0, 1, 2])).shape == (3,)  # everything else is the engine's


def test_oracle_items_take_the_best_item_of_each_skill() -> None:
    kept, world = learners_of("proficiency-peak40")
    learners = kept.truth()
    skills = np.arange(world.n_students) % CATALOG.n_skills
    chosen = oracle_items(CATALOG, learners, skills, np.random.default_rng(0))
    item_gain = learners.gain_tables()[1]
    for n, s in enumerate(skills):
        items = CATALOG.items_by_skill[s][CATALOG.items_by_skill[s] >= 0]
        assert chosen[n] == items[np.argmax(item_gain[n, items])]


def test_oracle_skills_take_the_oracles_resource_with_an_item_of_its_skill() -> None:
    kept, world = learners_of("proficiency-peak40")
    policy = OracleSkills(kept, CATALOG)
    batch = MasteryEngine(CATALOG).new_batch(simulated_ids(world.n_students))
    resources, items = policy.choose(batch, 0.0, np.random.default_rng(1))
    expected, _ = greedy_choice(CATALOG, *kept.truth().gain_tables(), np.random.default_rng(1))
    np.testing.assert_array_equal(resources, expected)
    assert (CATALOG.item_skill[items] == CATALOG.resource_skill[resources]).all()


def test_a_policy_that_knows_the_states_stops_practising_what_students_know() -> None:
    setting = setting_by_name("bkt")
    world = setting.world(CATALOG, 60, 2)
    engine = MasteryEngine(CATALOG)
    kept = KeptLearners(setting)
    wasted = {}
    for states in (False, True):
        with knowing(kept, world.n_students, states=states, items=False):
            run = run_policy(world, kept, OURS, 20, engine=engine)
        wasted[states] = run.over_practice.sum()
    assert wasted[True] < 0.5 * wasted[False]


def test_resources_known_are_the_worlds_qualities_over_their_levels_mean() -> None:
    _, world = learners_of("bkt")
    values = true_resource_values(world)
    level = CATALOG.resource_level
    for lv in np.unique(level):  # 1 is the average resource of its level, as the measured values are
        mine = level == lv
        np.testing.assert_allclose(values[mine].mean(), 1.0)
        np.testing.assert_allclose(values[mine] / values[mine][0], world.quality[mine] / world.quality[mine][0])
    progress = DifficultyProgress()
    known = knowing_resources(progress, world)
    np.testing.assert_array_equal(known.resource_multipliers(CATALOG.resource_ids), values)
    assert progress.resource_multipliers(CATALOG.resource_ids) is None  # the policy's own statistics are left alone


def test_resource_log_size_serves_flat_values_and_ranks_served_against_true_values() -> None:
    _, world = learners_of("bkt")
    truth = true_resource_values(world)
    measured = DifficultyProgress()
    measured.resource_value = {r: [float(v), 10, 0.0, 0.1, 0.0] for r, v in zip(CATALOG.resource_ids, truth)}
    assert rank_correlation(measured, CATALOG, truth) == 1.0
    assert rank_correlation(measured, CATALOG, -truth) == -1.0
    flat = flat_values(measured)
    assert flat.resource_multipliers(CATALOG.resource_ids) is None  # the scorer then values every resource at 1
    assert np.isnan(rank_correlation(flat, CATALOG, truth))
    np.testing.assert_array_equal(measured.resource_multipliers(CATALOG.resource_ids), truth)  # the built set untouched
