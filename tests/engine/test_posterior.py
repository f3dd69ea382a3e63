"""The posterior reference (`engine.simulate.posterior`): its particles follow Bayes' rule, and it never reads
the students' states."""

from __future__ import annotations

import numpy as np
import pytest

from engine.catalog import load_catalog
from engine.mastery import MasteryEngine
from engine.simulate.learners import BKTLearners
from engine.simulate.posterior import PosteriorPolicy, liu_west, systematic_resample
from engine.simulate.suite import setting_by_name
from engine.simulate.world import make_world


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(None)


def static_bkt(world):
    """BKT learners that neither learn nor forget: the state stays what the population drew."""
    return BKTLearners(world, base_learn=0.0, forget=0.0)


def test_particles_follow_bayes_rule_on_a_static_bkt_world(catalog):
    engine = MasteryEngine(catalog)
    skill = int(catalog.graph.order[0])
    item = int(np.flatnonzero(catalog.item_skill == skill)[0])
    resource = int(np.flatnonzero(catalog.resource_skill == skill)[0])
    # the population's prevalence of the skill, from an independent large draw (not the filter's particles)
    prior = make_world(catalog, 200_000, 12345).known0[:, skill].mean()
    probe = static_bkt(make_world(catalog, 1, 0))
    guess, slip = probe.guess[item], probe.slip[item]
    answers = [1.0, 1.0, 0.0, 1.0]
    like_known = np.prod([(1 - slip) if y else slip for y in answers])
    like_unknown = np.prod([guess if y else (1 - guess) for y in answers])
    exact = prior * like_known / (prior * like_known + (1 - prior) * like_unknown)

    world = make_world(catalog, 1, 3)
    policy = PosteriorPolicy.for_world(engine, static_bkt, world, particles=20_000)
    before = policy.p_known()[0, skill]
    for y in answers:
        policy.observe(np.array([resource]), np.array([item]), np.array([y]), np.array([0.5]))
    after = policy.p_known()[0, skill]
    assert before == pytest.approx(prior, abs=0.015)
    assert after == pytest.approx(exact, abs=0.02)
    assert abs(exact - prior) > 0.1  # the answers moved the exact posterior, so the check has power


def test_systematic_resampling_copies_each_particle_in_proportion_to_its_weight():
    weight = np.array([[0.5, 0.25, 0.25, 0.0], [0.0, 0.0, 1.0, 0.0]])
    picked = systematic_resample(weight, np.random.default_rng(0))
    assert np.bincount(picked[0], minlength=4).tolist() == [2, 1, 1, 0]
    assert picked[1].tolist() == [2, 2, 2, 2]


def test_liu_west_jitter_keeps_each_rows_mean_and_variance():
    rng = np.random.default_rng(1)
    x = np.stack([rng.normal(2.0, 0.5, 200_000), rng.normal(-1.0, 2.0, 200_000)])
    y = liu_west(x, 0.2, rng)
    assert y.mean(axis=1) == pytest.approx(x.mean(axis=1), abs=0.01)
    assert y.std(axis=1) == pytest.approx(x.std(axis=1), rel=0.01)
    assert not np.allclose(y, x)


def test_the_reference_chooses_the_same_whatever_the_students_true_states(catalog):
    setting = setting_by_name("proficiency-peak60")
    engine = MasteryEngine(catalog)
    world = setting.world(catalog, 30, 4)
    others = world.students(np.arange(30)[::-1])  # the same seed, resources and items; other students' states
    assert not np.array_equal(others.known0, world.known0)
    choices = []
    for w in (world, others):
        policy = PosteriorPolicy.for_world(engine, setting.learners, w, particles=8)
        choices.append(policy.choose(engine.new_batch([f"s{i}" for i in range(30)]), 0.0, np.random.default_rng(2)))
    assert np.array_equal(choices[0][0], choices[1][0]) and np.array_equal(choices[0][1], choices[1][1])


def test_the_particles_carry_the_worlds_resources_and_true_items(catalog):
    setting = setting_by_name("misspecified-15")
    world = setting.world(catalog, 5, 2)
    policy = PosteriorPolicy.for_world(MasteryEngine(catalog), setting.learners, world, particles=4)
    assert np.array_equal(policy.cloud.world.quality, world.quality)
    assert np.array_equal(policy.cloud.items.skill, world.items.skill)
    assert not np.array_equal(world.items.skill, catalog.item_skill)  # misspecified: the truth differs from the catalog
    assert world.n_students * 4 == policy.cloud.theta.shape[0]


def test_the_suite_reports_the_reference_beside_the_baselines_never_as_one(catalog):
    from engine.simulate.suite import run_suite  # noqa: PLC0415

    result = run_suite(catalog, ["equilearn", "posterior", "random", "oracle"], [setting_by_name("bkt")], students=12,
                       steps=5, seeds=[1], paired_from=("equilearn", "posterior"), particles=4)
    s = result["settings"][0]
    policies = s["policies"]
    assert s["best_baseline"] == "random"  # the reference knows the world: it is never the baseline to beat
    gap = policies["posterior"]["gain"]["mean"] - policies["random"]["gain"]["mean"]
    assert policies["posterior"]["minus"]["random"]["all"]["mean"] == pytest.approx(gap, abs=1e-12)  # same students
    assert policies["equilearn"]["minus"]["posterior"]["all"]["mean"] == pytest.approx(
        -policies["posterior"]["minus"]["equilearn"]["all"]["mean"], abs=1e-12)


def test_under_random_practice_the_posterior_tracks_the_learners_it_cannot_see(catalog):
    """With learning and forgetting on, and actions that do not depend on the particles, the posterior's P(known)
    stays calibrated against the simulated truth and beats the population prior it started from."""
    from engine.simulate.policies import random_items  # noqa: PLC0415

    setting = setting_by_name("bkt")
    world = setting.world(catalog, 40, 6)
    truth = setting.learners(world)
    policy = PosteriorPolicy.for_world(MasteryEngine(catalog), setting.learners, world, particles=100)
    prior = policy.p_known().copy()
    rng, learner_rng = np.random.default_rng(0), np.random.default_rng(1)
    for _ in range(15):
        resources = rng.integers(0, catalog.n_resources, 40)
        items = random_items(catalog, catalog.resource_skill[resources], rng)
        policy.observe(resources, items, truth.step(resources, items, learner_rng), np.full(40, 0.5))
    known = truth.known().astype(float)
    posterior = policy.p_known()
    assert posterior.mean() == pytest.approx(known.mean(), abs=0.03)
    assert ((posterior - known) ** 2).mean() < 0.8 * ((prior - known) ** 2).mean()


def test_the_suite_command_runs_the_reference_with_the_particles_asked_for(tmp_path, capsys):
    import json  # noqa: PLC0415

    from engine.cli import main  # noqa: PLC0415

    out = tmp_path / "suite.json"
    assert main(["simulate", "--suite", "--settings", "bkt", "--policies", "random,posterior", "--students", "6",
                 "--steps", "3", "--particles", "4", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result["settings"][0]["policies"]) == {"random", "posterior", "oracle"}
    assert result["settings"][0]["best_baseline"] == "random"
    assert main(["simulate", "--suite", "--settings", "bkt", "--policies", "posterior", "--students", "6",
                 "--steps", "3", "--particles", "1"]) == 2
    assert "at least 2 particles" in capsys.readouterr().err
