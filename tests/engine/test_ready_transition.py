"""The skill model's transition teaches a step as far as the skill's prerequisites are in place (issue 14).

With `MasteryEngine.ready_learn` (the learn rate per ready step, `scoring.ready_learn_rates`, set by
`build_policy` from a model set's measured log readiness), the BKT transition of a practised skill uses
ready_learn x P(its direct prerequisites learned) instead of one rate for every student. The fitted rate is the
ready rate times the log's mean readiness, so one rate for everyone lets P(learned) climb for a student who
practises a skill whose prerequisites are missing, and lag for one whose prerequisites are in place."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from engine.catalog import demo_catalog
from engine.mastery import MasteryEngine
from engine.mastery.bkt import BKTSkillModel, bkt_posterior
from engine.recommend.learning import DifficultyProgress
from engine.recommend.scoring import ready_learn_rates
from engine.runtime.modelset import build_policy


@pytest.fixture(scope="module")
def catalog():
    return demo_catalog()


def _chain(catalog):
    """sub_whole, whose one direct prerequisite is add_whole, and an item of each."""
    sub, add = catalog.skill_index("sub_whole"), catalog.skill_index("add_whole")
    assert np.flatnonzero(catalog.graph.direct[sub]).tolist() == [add]
    sub_item = int(np.flatnonzero(catalog.item_skill == sub)[0])
    add_item = int(np.flatnonzero(catalog.item_skill == add)[0])
    return sub, add, sub_item, add_item


def test_transition_by_hand(catalog) -> None:
    """P(sub_whole) 0.3, P(add_whole) 0.4, both practised, no times (no forgetting), one right answer on
    sub_whole: P' = post + (1 - post) x rate, post the BKT posterior of the right answer, rate = ready_learn x 0.4
    with ready_learn set, the table's learn rate without."""
    sub, add, sub_item, _ = _chain(catalog)
    engine = MasteryEngine(catalog)
    params = engine.skill_model.params
    post = bkt_posterior(np.array(0.3), np.array(1.0), params.guess[sub], params.slip[sub])
    results = {}
    for ready_learn in (None, 0.5):
        engine.ready_learn = None if ready_learn is None else np.full(catalog.n_skills, ready_learn)
        batch = engine.new_batch(["s"])
        batch.p_learned[0, [sub, add]] = 0.3, 0.4
        batch.evidence[0, [sub, add]] = 2, 3
        engine.update_batch(batch, np.array([0]), np.array([sub_item]), np.array([1.0]))
        results[ready_learn] = batch.p_learned[0]
    assert results[0.5][sub] == pytest.approx(float(post + (1 - post) * 0.5 * 0.4), abs=1e-12)
    assert results[None][sub] == pytest.approx(float(post + (1 - post) * params.learn[sub]), abs=1e-12)
    assert results[0.5][add] == results[None][add] == 0.4  # a prerequisite is not practised by its dependent's item


def test_build_policy_sets_the_ready_rate_from_the_measured_readiness(catalog) -> None:
    engine = MasteryEngine(catalog)
    progress = DifficultyProgress()
    components = {"mastery": engine.to_components(), "policy_learning": progress.to_dict()}
    served, _ = build_policy(catalog, components)
    assert served.ready_learn is None  # nothing measured: the fitted rates for everyone
    progress.skill_readiness = np.linspace(0.2, 1.0, catalog.n_skills)
    served, _ = build_policy(catalog, {**components, "policy_learning": progress.to_dict()})
    assert np.allclose(served.ready_learn, ready_learn_rates(engine.skill_model.learn_rates(), progress))


def test_p_learned_follows_students_who_lack_the_prerequisite(catalog) -> None:
    """A simulated cohort on the chain, answering by the engine's own guess and slip: half know add_whole, half
    do not; nobody knows sub_whole. Each answers 4 items of add_whole (which teach nothing here), then practises sub_whole 8 times, and
    learns it on a step with probability 0.4 only when add_whole is known (the rate per ready step; a log of this
    cohort would fit 0.2, half of it). The truth per group: 1 - 0.6^k after k steps for those who know add_whole,
    0 for the rest. One rate for everyone (0.2) overstates the second group and understates the first; with the
    ready rate, P(learned) of sub_whole is within 0.1 of the truth in both groups, several times closer."""
    sub, add, sub_item, add_item = _chain(catalog)
    rng = np.random.default_rng(7)
    n, rate, steps = 4000, 0.4, 8
    table = MasteryEngine(catalog).skill_model.params
    learn, prior = table.learn.copy(), table.prior.copy()
    learn[sub], prior[sub] = rate * 0.5, 0.01  # what a log of this cohort would fit; nobody knows sub_whole
    learn[add] = 0.0  # the answers on add_whole only reveal who knows it
    params = dataclasses.replace(table, learn=learn, prior=prior)
    engine = MasteryEngine(catalog, BKTSkillModel(params))
    knows_add = np.arange(n) < n // 2
    learned_sub = np.zeros(n, dtype=bool)
    answers_add = [rng.random(n) < np.where(knows_add, 1 - params.slip[add], params.guess[add]) for _ in range(4)]
    answers_sub = []
    for _ in range(steps):
        answers_sub.append(rng.random(n) < np.where(learned_sub, 1 - params.slip[sub], params.guess[sub]))
        learned_sub |= knows_add & (rng.random(n) < rate)
    truth = {True: 1 - (1 - rate) ** steps, False: 0.0}
    errors = {}
    for ready in (False, True):
        engine.ready_learn = ready_learn_rates(params.learn, _readiness(catalog, sub, 0.5)) if ready else None
        batch = engine.new_batch([f"s{i}" for i in range(n)])
        rows = np.arange(n)
        for y in answers_add:
            engine.update_batch(batch, rows, np.full(n, add_item), y.astype(float))
        for y in answers_sub:
            engine.update_batch(batch, rows, np.full(n, sub_item), y.astype(float))
        p = batch.p_learned[:, sub]
        errors[ready] = {group: abs(p[knows_add == group].mean() - truth[group]) for group in (True, False)}
    for group in (True, False):
        assert errors[True][group] < 0.1
        assert errors[True][group] < errors[False][group] / 2


def _readiness(catalog, skill: int, value: float) -> DifficultyProgress:
    progress = DifficultyProgress()
    progress.skill_readiness = np.ones(catalog.n_skills)
    progress.skill_readiness[skill] = value
    return progress


def test_a_skill_model_without_per_step_rates_still_serves(catalog) -> None:
    """A `SkillModel` whose `update` takes no `learn` (written before per-step rates) works while the engine has
    no ready rate, with the same result as the model it wraps."""
    _, _, sub_item, _ = _chain(catalog)
    inner = MasteryEngine(catalog).skill_model

    class OlderModel:
        skill_ids, version = inner.skill_ids, "older"

        def __getattr__(self, name):
            return getattr(inner, name)

        def update(self, p, practiced, correct, items=None):
            return inner.update(p, practiced, correct, items)

    older, current = MasteryEngine(catalog, OlderModel()), MasteryEngine(catalog, inner)
    states = []
    for engine in (older, current):
        batch = engine.new_batch(["s"])
        engine.update_batch(batch, np.array([0]), np.array([sub_item]), np.array([1.0]))
        states.append(batch.p_learned[0])
    assert np.array_equal(states[0], states[1])
